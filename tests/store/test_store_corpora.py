"""Corpora: names, lifecycle, cascades, and the connection settings the guarantees rest on."""

import pytest

from docqa.errors import CorpusExists, CorpusNotFound, InvalidCorpusName
from docqa.store import Store, default_store_path, validate_corpus_name

from store_fixtures import FP_A

HOSTILE = ["", "../x", "..", ".", "...", "a/b", "a\\b", "/etc/passwd", "'; DROP TABLE corpora; --",
           "naïve", "日本語", "a b", "-rf", "_x", "x\n", "x\x00y", "a" * 65, "x" * 10_000, "C:x"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_and_leave_the_store_intact(store, name):
    with pytest.raises(InvalidCorpusName) as e:
        store.create_corpus(name, FP_A, "tiny-a")
    assert str(e.value).endswith(
        ": use 1 to 64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit")
    with pytest.raises(CorpusNotFound):
        store.get_corpus(name)  # looked up as a parameter, never spliced into SQL
    assert store.list_corpora() == []
    assert store.db.table_names()[:4] == ["_sqlite_migrations", "corpora", "snapshots", "snapshot_layers"]


def test_invalid_name_message_shows_the_name_and_cuts_long_ones():
    with pytest.raises(InvalidCorpusName) as e:
        validate_corpus_name("../x")
    assert str(e.value) == ("invalid corpus name '../x': use 1 to 64 ASCII letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")
    with pytest.raises(InvalidCorpusName) as e:
        validate_corpus_name("x" * 10_000)
    assert len(str(e.value)) < 200
    with pytest.raises(InvalidCorpusName):
        validate_corpus_name(None)


@pytest.mark.parametrize("name", ["a", "my-repo", "v1.2_docs", "A" * 64, "0"])
def test_good_names(store, name):
    assert store.create_corpus(name, FP_A, "tiny-a").name == name


def test_create_get_list_delete(store, make_memory):
    a = store.create_corpus("b-corpus", FP_A, "tiny-a")
    store.create_corpus("a-corpus", FP_A, "tiny-a")
    assert (a.name, a.model_fingerprint, a.model_name, a.sources, a.current_snapshot_id, a.snapshots) == (
        "b-corpus", FP_A, "tiny-a", 0, None, 0)
    assert [c.name for c in store.list_corpora()] == ["a-corpus", "b-corpus"]
    with pytest.raises(CorpusExists) as e:
        store.create_corpus("a-corpus", FP_A, "tiny-a")
    assert str(e.value) == "corpus 'a-corpus' already exists: pick another name, or remove it with `docqa rm a-corpus`"
    store.delete_corpus("a-corpus")
    assert [c.name for c in store.list_corpora()] == ["b-corpus"]


def test_corpus_not_found_says_how_to_list(store):
    with pytest.raises(CorpusNotFound) as e:
        store.get_corpus("nope")
    assert str(e.value) == f"no corpus named 'nope' in {store.path}: list them with `docqa corpora`"
    with pytest.raises(CorpusNotFound):
        store.delete_corpus("nope")


def test_delete_cascades_to_everything_of_the_corpus(store, corpus, make_memory):
    from docqa.store import NewSource
    keep = store.create_corpus("keep", FP_A, "tiny-a").name
    for name in (corpus, keep):
        sid = store.save_snapshot(name, make_memory(1), position=1, sources=[NewSource(0, "a.txt")])
        conv = store.create_conversation(name, sid)
        store.add_turn(conv, "user", "hi")
    store.delete_corpus(corpus)
    counts = {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("corpora", "snapshots", "snapshot_layers", "sources", "conversations", "turns")}
    assert counts == {"corpora": 1, "snapshots": 1, "snapshot_layers": 3, "sources": 1, "conversations": 1,
                      "turns": 1}
    assert store.load_snapshot(keep, model_fingerprint=FP_A).equal(make_memory(1))


def test_connection_enforces_foreign_keys_and_uses_wal(store):
    assert store.db.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert store.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    import sqlite3
    with pytest.raises(sqlite3.IntegrityError):
        with store.db.atomic():
            store.db.execute("INSERT INTO snapshot_layers VALUES (999, 0, x'00', 'x', 1)")


def test_default_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCQA_DB", str(tmp_path / "elsewhere.db"))
    assert default_store_path() == tmp_path / "elsewhere.db"
    monkeypatch.delenv("DOCQA_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_path() == tmp_path / "xdg" / "docqa" / "docqa.db"
    with Store() as s:
        assert s.path == tmp_path / "xdg" / "docqa" / "docqa.db" and s.path.exists()


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    from docqa.errors import StoreError
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=f"^cannot open the store {bad} \\(file is not a database\\): it is damaged, or not a docqa store: "
                                        "restore a backup, or pass --db"):
        Store(bad)
