"""The per-corpus writer lock: one ingest (or removal) writes a corpus at a time.

Why it is built this way:
- An OS lock (`flock`) on a small file beside the store, one file per corpus: the kernel
  releases it when its holder ends, however it ends (SIGKILL included), so a dead writer never
  blocks the next one and no stale pid has to be guessed at. flock is per open file, so two
  threads of one process exclude each other too. (POSIX only: fcntl.)
- SQLite's own write lock covers one transaction; an ingest is many, with the stream read
  between them, so two ingests of one corpus would interleave their rewinds and saves.
- The file holds its holder's pid, host and start time, for the message the next writer gets.
  A holder that unlinks its file (removing the corpus) does so while holding the lock, and a
  taker checks that the file it locked is still the one at the path, so no two can both win.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from docqa.errors import CorpusLocked, StoreError

POLL_SECONDS = 0.1  # how often a waiting writer tries again
WAIT_FIX = "wait for it to end, or pass --wait to start when it does"


@dataclass(frozen=True)
class LockHolder:
    pid: int | None
    host: str | None
    since: str | None  # ISO 8601, UTC

    def describe(self) -> str:
        if self.pid is None:
            return "another process (it has not said which yet)"
        host = "" if self.host in (None, socket.gethostname()) else f" on {self.host}"
        return f"pid {self.pid}{host}, since {(self.since or '?')[:19].replace('T', ' ')} UTC"


def lock_path(store_path: Path, corpus: str) -> Path:
    """Beside the store, as SQLite's -wal and -shm files are. `corpus` is a validated name."""
    return Path(f"{store_path}-locks") / f"{corpus}.lock"


def read_holder(path: Path) -> LockHolder:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):  # gone, or being written this instant
        return LockHolder(None, None, None)
    return LockHolder(info.get("pid"), info.get("host"), info.get("since"))


@contextmanager
def writer_lock(store_path: Path, corpus: str, *, wait: bool = False,
                on_wait: Callable[[LockHolder], None] | None = None, fix: str = WAIT_FIX) -> Iterator[Path]:
    """Hold corpus's writer lock for the block. Held elsewhere: raise CorpusLocked (its message
    ends with `fix`), or with `wait` call `on_wait(holder)` once and take the lock when the
    holder lets it go."""
    path = lock_path(store_path, corpus)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"cannot create the lock folder {path.parent}: {e}") from e
    fd = _acquire(path, corpus, wait, on_wait, fix)
    try:
        _write_holder(fd)
        yield path
    finally:
        if _still_at(fd, path):
            os.ftruncate(fd, 0)  # the next holder's message never names a holder that has gone
        os.close(fd)  # releases the lock


def _acquire(path: Path, corpus: str, wait: bool, on_wait, fix: str) -> int:
    told = False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(f"cannot open the lock file {path}: {e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if not wait:
                raise CorpusLocked(f"corpus {corpus!r} is being written by another docqa "
                                   f"({read_holder(path).describe()}): {fix}") from None
            if not told and on_wait is not None:
                on_wait(read_holder(path))
            told = True
            time.sleep(POLL_SECONDS)
            continue
        if _still_at(fd, path):
            return fd
        os.close(fd)  # its holder removed the file while we waited for it: lock the new one


def _still_at(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _write_holder(fd: int) -> None:
    info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                       "since": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())})
    os.ftruncate(fd, 0)
    os.pwrite(fd, info.encode(), 0)


def remove_lock_file(path: Path) -> None:
    """Unlink the lock file while holding its lock (the corpus is gone)."""
    path.unlink(missing_ok=True)
