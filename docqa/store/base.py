"""The connection under every store operation: how it is opened, and how it writes and reads.

Why it is built this way:
- Every write is one `BEGIN IMMEDIATE` transaction: a snapshot's layer rows, its row, its
  sources and the corpus's current pointer land together or not at all, so a crash at any
  instant leaves the previous snapshot current and intact. IMMEDIATE takes the write lock at
  the start, so a second writer waits (busy_timeout) instead of failing half-way.
- WAL lets readers load snapshots while an ingest writes; each multi-statement read runs in
  its own read transaction so it sees one consistent state.
- Foreign keys are switched on for every connection; deleting a corpus cascades to all of it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from docqa.errors import CorpusNotFound, DocqaError, StoreError, StoreFull
from docqa.store import damage
from docqa.store.migrations import migrations
from docqa.store.paths import default_store_path

BUSY_TIMEOUT_MS = 30_000  # a reader or second writer waits this long for a snapshot write


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


class StoreBase:
    """The open connection and the transaction helpers the store's parts share."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the store's folder {self.path.parent}: {e}") from e
        try:
            self.db = Database(damage.connect(self.path), execute_plugins=False)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot open the store {self.path}: {e}") from e
        try:
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._enable_wal()  # before any transaction: the journal mode cannot change inside one
            self._migrate()
            damage.verify_schema(self.db, self.path)
        except sqlite3.DatabaseError as e:
            self.db.close()
            raise StoreError(f"cannot open the store {self.path}: {e}; "
                             "pass --db or set DOCQA_DB to use another file") from e
        except DocqaError:  # damaged, full or unreadable (see `damage`)
            self.db.close()
            raise
        damage.opened(self.db.conn)

    def close(self) -> None:
        self.db.close()

    def __exit__(self, *exc) -> None:
        self.close()

    def _enable_wal(self) -> None:
        """Switch the file to WAL, waiting up to BUSY_TIMEOUT_MS for another connection's write.

        SQLite answers a journal-mode switch "database is locked" at once, without calling the
        busy handler, while another connection holds a rollback-journal write lock; on a new
        store that is the other opener's own switch to WAL. So the wait is done here."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self.db.enable_wal()
                return
            except sqlite3.OperationalError as e:
                if e.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            time.sleep(0.01)

    def _migrate(self) -> None:
        """Apply pending migrations under the write lock, so two processes opening a fresh
        store at once cannot both try to create it. Skip the lock when nothing is pending,
        so opening never waits on a running ingest."""
        damage.verify_migrations(self.db, self.path)
        if migrations.pending(self.db):
            with self._write():
                migrations.apply(self.db)

    @contextmanager
    def _write(self, needs: int | None = None) -> Iterator[None]:
        """One write transaction. `needs`: the bytes it adds, for the message of a full disk."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.commit()
            except BaseException:
                self.db.rollback()  # a no-op when a failed COMMIT already rolled back
                raise
        except StoreFull as e:
            if needs is None:
                raise
            raise damage.full(self.path, needs) from e

    def reading(self):
        """A context in which every read of this store sees one consistent state: a snapshot
        looked up and then loaded cannot be swapped for another in between."""
        return self._read()

    @contextmanager
    def _read(self) -> Iterator[None]:
        """One consistent view across several SELECTs (a nested read joins the open transaction)."""
        if self.db.conn.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.commit()

    def _rows(self, sql: str, params: Iterable | dict = ()) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, params)
        keys = [d[0] for d in cursor.description]
        return [dict(zip(keys, row)) for row in cursor.fetchall()]

    def _row(self, sql: str, params: Iterable | dict = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _checked(self, record):
        """`record` if its fields hold their declared types, else StoreDamaged (see `damage`)."""
        return damage.checked(record, self.path)

    def _expect(self, row: dict[str, Any], what: str, **kinds: type) -> dict[str, Any]:
        """`row` if the named columns hold these types, else StoreDamaged naming `what`."""
        return damage.expect(self.path, row, what, **kinds)

    def _corpus_id(self, name: str) -> int:
        row = self._row("SELECT id FROM corpora WHERE name = ?", [name])
        if row is None:
            raise CorpusNotFound(f"no corpus named {name!r} in {self.path}: list them with `docqa corpora`")
        return row["id"]

    def _refresh_totals(self, cid: int) -> None:
        self.db.execute("""
            UPDATE corpora SET
                sources = (SELECT count(*) FROM sources WHERE corpus_id = :c AND status = 'ingested'),
                bytes = (SELECT coalesce(sum(size), 0) FROM sources WHERE corpus_id = :c AND status = 'ingested'),
                tokens = coalesce((SELECT tokens FROM snapshots WHERE id = corpora.current_snapshot_id), 0),
                segments = coalesce((SELECT segments FROM snapshots WHERE id = corpora.current_snapshot_id), 0),
                updated_at = :now
            WHERE id = :c""", {"c": cid, "now": now()})
