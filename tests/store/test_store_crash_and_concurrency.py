"""Atomic snapshot writes, proved by killing a real writer; readers alongside a writer (WAL)."""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from docqa.store import Store

from store_fixtures import FP_A, random_memory

CONFTEST = Path(__file__).with_name("store_fixtures.py")

WRITER = """
import os, signal, sys
sys.path.insert(0, {conftest_dir!r})
from store_fixtures import FP_A, random_memory
from docqa.store import NewSource, Store

store = Store({db!r})
store.create_corpus("notes", FP_A, "tiny-a")
if {first_good}:
    store.save_snapshot("notes", random_memory(1), position=1, sources=[NewSource(0, "a.txt", size=5, tokens=3)])

real = getattr(Store, {hook!r})
def dying(self, *args):
    real(self, *args)
    if {hook!r} != "_insert_layer" or args[1] == 1:  # after the second layer's row
        os.kill(os.getpid(), signal.SIGKILL)
setattr(Store, {hook!r}, dying)
parent = store.current_snapshot("notes")
store.save_snapshot("notes", random_memory(2), position=2, parent=parent and parent.id, kind="final",
                    sources=[NewSource(1, "b.txt", size=7, tokens=4)])
raise SystemExit("the kill did not happen")
"""


def _run_and_kill(db_path, hook: str, first_good: bool) -> None:
    script = WRITER.format(conftest_dir=str(CONFTEST.parent), db=str(db_path), hook=hook, first_good=first_good)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize("hook", ["_insert_layer", "_insert_sources", "_refresh_totals"])
def test_writer_killed_mid_save_leaves_the_previous_snapshot_current_and_intact(db_path, hook):
    """Killed after some layer rows, after the source rows, or after the current pointer moved:
    in every case nothing of the second save survives."""
    _run_and_kill(db_path, hook, first_good=True)
    with Store(db_path) as store:
        snap = store.current_snapshot("notes")
        assert (snap.position, snap.kind) == (1, "checkpoint")
        assert store.load_snapshot("notes", model_fingerprint=FP_A).equal(random_memory(1))
        assert [s.id for s in store.list_snapshots("notes")] == [snap.id]
        assert [s.uri for s in store.list_sources("notes")] == ["a.txt"]
        assert store.db.execute("SELECT count(*) FROM snapshot_layers").fetchone() == (3,)
        info = store.get_corpus("notes")
        assert (info.sources, info.bytes, info.tokens) == (1, 5, 3)
        assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # and the store takes the next write as if nothing had happened
        sid = store.save_snapshot("notes", random_memory(2), position=2, parent=snap.id)
        assert store.load_snapshot("notes", sid, model_fingerprint=FP_A).equal(random_memory(2))


def test_writer_killed_during_its_first_save_leaves_an_empty_corpus(db_path):
    _run_and_kill(db_path, "_insert_layer", first_good=False)
    with Store(db_path) as store:
        assert store.current_snapshot("notes") is None
        assert store.list_snapshots("notes") == [] and store.list_sources("notes") == []
        assert store.db.execute("SELECT count(*) FROM snapshot_layers").fetchone() == (0,)


def test_reader_sees_the_previous_snapshot_while_a_write_is_open(db_path, store, corpus, make_memory):
    first = store.save_snapshot(corpus, make_memory(1), position=1)
    seen = []

    class PausingStore(Store):
        def _insert_layer(self, snapshot_id, layer, blob):
            super()._insert_layer(snapshot_id, layer, blob)
            if layer == 1:  # mid-transaction: a second connection reads now
                with Store(db_path) as reader:
                    seen.append((reader.current_snapshot(corpus).id,
                                 reader.load_snapshot(corpus, model_fingerprint=FP_A).equal(make_memory(1)),
                                 len(reader.list_snapshots(corpus))))

    with PausingStore(db_path) as writer:
        second = writer.save_snapshot(corpus, make_memory(2), position=2, parent=first)
    assert seen == [(first, True, 1)]
    assert store.current_snapshot(corpus).id == second


READER_WRITER = """
import sys
sys.path.insert(0, {conftest_dir!r})
from store_fixtures import random_memory
from docqa.store import Store

store = Store({db!r})
parent = store.current_snapshot("notes").id
for seed in range(2, {n} + 2):
    parent = store.save_snapshot("notes", random_memory(seed, n_layer=4, d_key=32, d_value=32),
                                 position=seed, parent=parent)
"""


def test_readers_in_another_process_while_a_writer_ingests(db_path, store, corpus):
    n = 20
    store.save_snapshot(corpus, random_memory(1, n_layer=4, d_key=32, d_value=32), position=1)
    expected = {seed: random_memory(seed, n_layer=4, d_key=32, d_value=32) for seed in range(1, n + 2)}
    script = READER_WRITER.format(conftest_dir=str(CONFTEST.parent), db=str(db_path), n=n)
    writer = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    loads, seen = 0, set()
    deadline = time.monotonic() + 60
    with Store(db_path) as reader:
        while time.monotonic() < deadline:
            done = writer.poll() is not None
            memory = reader.load_snapshot(corpus, model_fingerprint=FP_A)
            assert memory.equal(expected[memory.segments])  # always one whole snapshot, never a mix
            loads, seen = loads + 1, seen | {memory.segments}
            if done:
                break
    assert writer.wait(timeout=5) == 0, writer.stderr.read()
    assert max(seen) == n + 1 and loads > 1


def test_opening_a_fresh_store_waits_out_another_connections_journal_switch(tmp_path):
    """Two connections opening a new store at once: one switches the file to WAL while the other
    asks for the same switch. SQLite answers the second "database is locked" at once, without
    its busy handler (seen as a flaky `ingest A B --corpus-per-path`); opening must wait instead.
    A rollback-journal write transaction held for a moment stands in for the first switch."""
    import sqlite3
    import threading

    path = tmp_path / "s.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t(x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
    with Store(path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()
