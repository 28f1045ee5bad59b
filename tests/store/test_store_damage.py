"""The store under damage, without a model: which SQLite failures are the user's, records of the
wrong type, a changed schema, a full disk, and check/repair keeping exactly what is intact."""

import hashlib
import sqlite3

import pytest

from docqa.errors import CorruptSnapshot, StoreDamaged, StoreError, StoreFull
from docqa.store import NewSource, Store, damage

from store_fixtures import FP_A, random_memory

FIX = ("`docqa check` shows what is intact and `docqa check NAME --repair` keeps it; or restore a backup, "
       "or pass --db to use another file")


def _sqlite_error(cls, message, code):
    e = cls(message)
    e.sqlite_errorcode = code
    return e


def test_only_failures_of_the_file_are_translated(tmp_path):
    path = tmp_path / "s.db"
    corrupt = damage.translate(_sqlite_error(sqlite3.DatabaseError, "database disk image is malformed", 11), path)
    assert isinstance(corrupt, StoreDamaged) and corrupt.detail == "database disk image is malformed"
    assert str(corrupt) == f"the store {path} is damaged (database disk image is malformed): {FIX}"
    assert isinstance(damage.translate(_sqlite_error(sqlite3.DatabaseError, "file is not a database", 26), path),
                      StoreDamaged)
    full = damage.translate(_sqlite_error(sqlite3.OperationalError, "database or disk is full", 13), path)
    assert isinstance(full, StoreFull) and str(full).startswith(f"the disk holding the store {path} is full (")
    io = damage.translate(_sqlite_error(sqlite3.OperationalError, "disk I/O error", 778), path)  # SQLITE_IOERR_WRITE
    assert type(io) is StoreError and str(io).startswith(f"cannot read or write the store {path} (disk I/O error)")
    text = damage.translate(sqlite3.OperationalError("Could not decode to UTF-8 column 'uri' with text 'x'"), path)
    assert str(text) == f"the store {path} is damaged (text that is not UTF-8): {FIX}"
    # a constraint, a mistake in docqa's SQL, a busy store: not the file's damage
    assert damage.translate(_sqlite_error(sqlite3.IntegrityError, "UNIQUE constraint failed", 2067), path) is None
    assert damage.translate(_sqlite_error(sqlite3.OperationalError, "no such column: nme", 1), path) is None
    assert damage.translate(_sqlite_error(sqlite3.OperationalError, "database is locked", 5), path) is None
    assert damage.translate(ValueError("x"), path) is None


def test_a_value_of_another_type_is_damage_naming_the_field(db_path, store, corpus):
    con = sqlite3.connect(db_path)
    with con:
        con.execute("UPDATE corpora SET updated_at = x'0102' WHERE name = 'notes'")
    con.close()
    with pytest.raises(StoreDamaged) as e:
        store.list_corpora()
    assert str(e.value) == (f"the store {db_path} is damaged (a CorpusInfo's updated_at holds bytes b'\\x01\\x02', "
                            f"not str): {FIX}")


def test_text_that_is_not_utf8_is_damage_at_any_query(db_path, store, corpus, make_memory):
    store.save_snapshot(corpus, make_memory(1), position=1, sources=[NewSource(0, "a.txt", tokens=3)])
    con = sqlite3.connect(db_path)
    with con:
        con.execute("UPDATE sources SET uri = CAST(x'61ff62' AS TEXT)")
    con.close()
    assert store.current_snapshot(corpus).position == 1  # what does not read the row still works
    with pytest.raises(StoreDamaged, match=r"is damaged \(text that is not UTF-8\)"):
        store.list_sources(corpus)


def test_a_changed_schema_is_refused_at_open(db_path, store, corpus):
    store.close()
    con = sqlite3.connect(db_path)
    with con:  # a flipped byte in the stored CREATE TABLE text: a column renamed
        con.execute("PRAGMA writable_schema = ON")
        con.execute("UPDATE sqlite_master SET sql = replace(sql, 'uri TEXT', 'urj TEXT') WHERE name = 'sources'")
    con.close()
    with pytest.raises(StoreDamaged) as e:
        Store(db_path)
    assert str(e.value) == (f"cannot open the store {db_path} (the definition of its table sources has changed): "
                            "it is damaged, or not a docqa store: restore a backup, or pass --db (or set DOCQA_DB) "
                            "to use another file")


def _record_migration(db_path, name, rowid=None):
    con = sqlite3.connect(db_path)
    with con:
        if rowid is None:
            con.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('docqa.store', ?, "
                        "'2027')", [name])
        else:
            con.execute("UPDATE _sqlite_migrations SET name = ? WHERE rowid = ?", [name, rowid])
    con.close()


def test_a_newer_docqas_migrations_are_not_damage_but_a_damaged_record_is(db_path, store, corpus):
    store.close()
    _record_migration(db_path, "m099_from_a_newer_docqa")
    Store(db_path).close()
    _record_migration(db_path, "m00?_flipped", rowid=3)  # one of ours now reads as another name
    with pytest.raises(StoreDamaged, match="its record of applied migrations is damaged"):
        Store(db_path)


def test_a_full_disk_rolls_back_the_save_and_names_the_store_and_the_snapshot(db_path, store, corpus, make_memory,
                                                                             monkeypatch):
    first = store.save_snapshot(corpus, make_memory(1), position=1, sources=[NewSource(0, "a.txt", tokens=3)])
    store.close()
    (pages,) = sqlite3.connect(db_path).execute("PRAGMA page_count").fetchone()
    real = damage.connect

    def full_disk(path):
        conn = real(path)
        conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL at the next new page
        return conn

    monkeypatch.setattr(damage, "connect", full_disk)
    big = random_memory(2, d_key=64, d_value=64)
    with Store(db_path) as s, pytest.raises(StoreFull) as e:
        s.save_snapshot(corpus, big, position=2, parent=first, sources=[NewSource(1, "b.txt", tokens=4)])
    size = damage.human(sum(map(len, big.layer_blobs())) + len(big.pending_blob()))
    assert str(e.value).startswith(f"the disk holding the store {db_path} is full (")
    assert str(e.value).endswith(f" free; the snapshot being saved takes {size}): free some space (or pass --db to "
                                 "use a store on another disk) and run the command again; an interrupted `docqa "
                                 "ingest` resumes from its last checkpoint")
    monkeypatch.setattr(damage, "connect", real)
    with Store(db_path) as s:
        assert s.current_snapshot(corpus).id == first and [r.uri for r in s.list_sources(corpus)] == ["a.txt"]
        assert s.load_snapshot(corpus, model_fingerprint=FP_A).equal(random_memory(1))


def _filled(store, corpus, n=4):
    """n snapshots, one source each; the last is final and current."""
    sid = None
    for i in range(n):
        sid = store.save_snapshot(corpus, random_memory(i + 1), position=i + 1, parent=sid,
                                  kind="final" if i == n - 1 else "checkpoint",
                                  sources=[NewSource(i, f"f{i}.txt", tokens=10)])
    return sid


def _rot_layer(db_path, snapshot_id, layer=0):
    con = sqlite3.connect(db_path)
    with con:
        (blob,) = con.execute("SELECT blob FROM snapshot_layers WHERE snapshot_id = ? AND layer = ?",
                              [snapshot_id, layer]).fetchone()
        con.execute("UPDATE snapshot_layers SET blob = ? WHERE snapshot_id = ? AND layer = ?",
                    [blob[:-1] + bytes([blob[-1] ^ 1]), snapshot_id, layer])
    con.close()
    return hashlib.sha256(blob).hexdigest()


def test_check_of_an_intact_store(store, corpus):
    _filled(store, corpus)
    report = store.check()
    assert (report.ok, report.integrity, report.problems) == (True, ["ok"], [])
    (c,) = report.corpora
    assert (c.name, c.intact, c.current_snapshot_id, c.newest_intact_id, c.problems) == ("notes", True, 4, 4, [])
    assert [(s.id, s.kind, s.position, s.current, s.intact) for s in c.snapshots] == [
        (1, "checkpoint", 1, False, True), (2, "checkpoint", 2, False, True), (3, "checkpoint", 3, False, True),
        (4, "final", 4, True, True)]
    assert store.repair().corpora == []


def test_repair_of_an_older_checkpoint_drops_only_it(db_path, store, corpus):
    _filled(store, corpus)
    _rot_layer(db_path, 2)
    c = store.check(corpus).corpora[0]
    assert [s.id for s in c.snapshots if not s.intact] == [2] and not c.intact
    assert c.snapshots[1].problem.startswith("layer 0 checksum mismatch (stored ")
    (r,) = store.repair(corpus).corpora
    assert (r.current_before, r.current_after, r.resumes_from) == (4, 4, None)
    assert [(d.snapshot_id, d.kind, d.position, d.was_current, d.sources_forgotten) for d in r.dropped] == [
        (2, "checkpoint", 2, False, 0)]
    assert [s.id for s in store.list_snapshots(corpus)] == [1, 3, 4]
    assert len(store.list_sources(corpus)) == 4  # the current snapshot still covers them all
    assert store.check(corpus).ok and store.dropped_snapshots(corpus) == r.dropped


def test_repair_of_the_current_snapshot_points_at_the_newest_intact_one(db_path, store, corpus):
    _filled(store, corpus)
    _rot_layer(db_path, 4, layer=2)
    with pytest.raises(CorruptSnapshot) as e:
        store.load_snapshot(corpus, model_fingerprint=FP_A)
    err = store.damaged_current(corpus, 4, e.value)
    assert str(err) == (f"the current snapshot 4 of corpus 'notes' is damaged ({e.value.detail}): snapshot 3 "
                        "(checkpoint, covering the first 3 sources) is intact: answer from it with `--snapshot 3`, "
                        "or make it current with `docqa check notes --repair`")
    (r,) = store.repair(corpus).corpora
    assert (r.current_before, r.current_after, r.resumes_from) == (4, 3, 3)
    assert [(d.snapshot_id, d.was_current, d.sources_forgotten) for d in r.dropped] == [(4, True, 1)]
    assert store.current_snapshot(corpus).id == 3
    assert [s.uri for s in store.list_sources(corpus)] == ["f0.txt", "f1.txt", "f2.txt"]
    info = store.get_corpus(corpus)
    assert (info.sources, info.tokens, info.snapshots) == (3, 30, 3)
    assert store.load_snapshot(corpus, model_fingerprint=FP_A).equal(random_memory(3))
    assert store.check().ok


def test_repair_with_nothing_intact_leaves_an_empty_corpus_to_ingest_again(db_path, store, corpus):
    _filled(store, corpus, n=2)
    _rot_layer(db_path, 1)
    _rot_layer(db_path, 2)
    err = store.damaged_current(corpus, 2, StoreDamaged("x", "layer 0 checksum mismatch"))
    assert str(err) == ("the current snapshot 2 of corpus 'notes' is damaged (layer 0 checksum mismatch), and none "
                        "of its other snapshots is intact: `docqa check notes --repair` drops the damaged ones, then "
                        "`docqa ingest` builds the corpus again")
    (r,) = store.repair(corpus).corpora
    assert (r.current_after, r.resumes_from, len(r.dropped)) == (None, 0, 2)
    assert store.current_snapshot(corpus) is None and store.list_sources(corpus) == []
    assert store.check().ok


def test_a_dangling_current_pointer_is_damage_and_repair_mends_it(db_path, store, corpus):
    _filled(store, corpus, n=3)
    con = sqlite3.connect(db_path)  # foreign keys off here, as they are for a flipped byte
    with con:
        con.execute("UPDATE corpora SET current_snapshot_id = 77")
    con.close()
    with pytest.raises(CorruptSnapshot, match="snapshot 77 is corrupt: the corpus points at it as current"):
        store.current_snapshot(corpus)
    c = store.check(corpus).corpora[0]
    assert c.problems == ["its current pointer names snapshot 77, which it does not hold"]
    (r,) = store.repair(corpus).corpora
    assert (r.current_before, r.current_after, r.dropped) == (77, 3, [])
    assert store.current_snapshot(corpus).id == 3 and store.check().ok


def test_a_current_pointer_to_an_older_snapshot_is_reported(db_path, store, corpus):
    _filled(store, corpus, n=3)
    con = sqlite3.connect(db_path)
    with con:
        con.execute("UPDATE corpora SET current_snapshot_id = 1")
    con.close()
    assert store.check(corpus).corpora[0].problems == [
        "its current snapshot 1 is not its newest (3), nor superseded by a re-ingest"]
    store.delete_sources_from(corpus, 0)  # what a re-ingest does first: now 1 is current and superseded
    assert store.check(corpus).ok


def _damage_index(db_path, offset, data):
    con = sqlite3.connect(db_path)
    (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_snapshot_layers_1'"
                          ).fetchone()
    con.close()
    with open(db_path, "r+b") as f:
        f.seek((root - 1) * 4096 + offset)
        f.write(data)


def test_a_damaged_index_entry_is_rebuilt_and_hides_nothing(db_path, store, corpus):
    _filled(store, corpus, n=3)
    store.close()
    _damage_index(db_path, 4095, b"\x7f")  # the last entry's rowid: a layer row goes missing from the index
    with Store(db_path) as s:
        report = s.check()
        assert report.integrity == ["row 1 missing from index sqlite_autoindex_snapshot_layers_1"]
        assert [x.id for x in report.corpora[0].snapshots if not x.intact] == [1]  # as the index says
        repaired = s.repair()
        assert "snapshot_layers" in repaired.reindexed and (repaired.unsound, repaired.corpora) == ([], [])
        assert s.check().ok and [x.id for x in s.list_snapshots(corpus)] == [1, 2, 3]


def test_a_file_that_stays_unsound_has_nothing_dropped(db_path, store, corpus):
    _filled(store, corpus, n=3)
    store.close()
    _damage_index(db_path, 0, b"\x0a\xff\xff\x7f\x7f")  # the index page's header: nonsense
    with Store(db_path) as s:
        report = s.check()
        assert not report.ok and all(not x.intact for x in report.corpora[0].snapshots)  # every lookup fails
        repaired = s.repair()
        assert repaired.unsound and repaired.corpora == [] and repaired.not_reindexed
    con = sqlite3.connect(db_path)
    assert [r[0] for r in con.execute("SELECT id FROM snapshots")] == [1, 2, 3]  # all still there
    con.close()
