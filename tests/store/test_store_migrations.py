"""Migrations: a blank store gets them all; a store from the first schema is carried forward."""

import sqlite3

import pytest
from sqlite_utils import Database

from docqa.store import Store
from docqa.store.migrations import migrations

from store_fixtures import FP_A, random_memory

ALL = ["m001_initial", "m002_conversations", "m003_corpus_retention", "m004_superseded_snapshots",
       "m006_dropped_snapshots", "m007_corpus_roots", "m008_corpus_stream_options"]


def _applied(db_path):
    con = sqlite3.connect(db_path)
    names = [r[0] for r in con.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    con.close()
    return names


def test_blank_store_gets_every_migration_once(db_path):
    Store(db_path).close()
    Store(db_path).close()
    assert _applied(db_path) == ALL


def test_migration_names_are_the_shipped_ones():
    """A shipped migration is never renamed or dropped: stores out there recorded these names."""
    assert [m.name for m in migrations._migrations][:len(ALL)] == ALL


def test_store_from_the_first_schema_with_rows_is_migrated_on_open(db_path):
    db_path.parent.mkdir(parents=True)
    old = Database(db_path)
    migrations.apply(old, stop_before="m002_conversations")  # what the first docqa shipped
    assert "conversations" not in old.table_names()
    # rows written the way the first schema's docqa wrote them: plain SQL, its own columns only
    m = random_memory(5)
    blobs, pending = m.layer_blobs(), m.pending_blob()
    import hashlib
    with old.atomic():
        old.execute("INSERT INTO corpora (id, name, model_fingerprint, model_name, created_at, updated_at, "
                    "sources, bytes, tokens, segments) VALUES (1, 'old', ?, 'tiny-a', 't0', 't0', 1, 10, 4, 5)",
                    [FP_A])
        old.execute("INSERT INTO snapshots (id, corpus_id, parent_id, kind, created_at, tokens, segments, position, "
                    "covers_from, cursor, n_layers, nbytes, pending, pending_sha256) "
                    "VALUES (1, 1, NULL, 'final', 't0', 4, 5, 1, 0, NULL, ?, ?, ?, ?)",
                    [len(blobs), sum(map(len, blobs)) + len(pending), pending, hashlib.sha256(pending).hexdigest()])
        for i, b in enumerate(blobs):
            old.execute("INSERT INTO snapshot_layers VALUES (1, ?, ?, ?, ?)", [i, b, hashlib.sha256(b).hexdigest(), len(b)])
        old.execute("UPDATE corpora SET current_snapshot_id = 1")
        old.execute("INSERT INTO sources (corpus_id, position, uri, status, tokens, size, snapshot_id, created_at) "
                    "VALUES (1, 0, 'a.txt', 'ingested', 4, 10, 1, 't0')")
    old.close()

    with Store(db_path) as store:
        assert _applied(db_path) == ALL
        info = store.get_corpus("old")
        assert (info.sources, info.tokens, info.segments, info.current_snapshot_id) == (1, 4, 5, 1)
        assert store.load_snapshot("old", model_fingerprint=FP_A).equal(m)
        assert [s.uri for s in store.list_sources("old")] == ["a.txt"]
        conv = store.create_conversation("old", 1)  # the new tables work with the old rows
        store.add_turn(conv, "user", "hello")
        assert store.current_snapshot("old").superseded is False  # m004's column, defaulted on old rows
        assert info.roots is None and info.incomplete is False  # m007: roots unknown; derived: it finished
        assert store.stream_options("old") == (None, {})  # m008: read with the defaults


def test_a_failing_migration_leaves_nothing_half_done(db_path, monkeypatch):
    db_path.parent.mkdir(parents=True)
    old = Database(db_path)
    migrations.apply(old, stop_before="m002_conversations")
    old.close()

    def broken(db):
        db.execute("CREATE TABLE conversations (id INTEGER PRIMARY KEY)")
        raise sqlite3.OperationalError("disk I/O error")

    step = next(m for m in migrations._migrations if m.name == "m002_conversations")
    monkeypatch.setattr(step, "fn", broken)
    from docqa.errors import StoreError
    with pytest.raises(StoreError, match="disk I/O error"):
        Store(db_path)
    assert _applied(db_path) == ["m001_initial"]
    assert "conversations" not in Database(db_path).table_names()
