"""The process-level caches of docqa.api: never stale, never shared, never unbounded."""

import docqa.api
from docqa.api import Corpus
from docqa.store import Store


def folder(root, text):
    root.mkdir(parents=True)
    (root / "doc.txt").write_text(text * 12)
    return root


def stored(db, corpus):
    with Store(db) as s:
        return s.load_snapshot(corpus.name, model_fingerprint=corpus.lm.fingerprint)


def test_a_reused_snapshot_id_never_answers_from_the_removed_corpus(tmp_path, model_dir):
    """ingest A, rm it, ingest B under the same name in the same process: B's memory, not A's."""
    db = tmp_path / "s.db"
    corpus = Corpus("c", db=db, model=model_dir)
    corpus.ingest(str(folder(tmp_path / "a", "The pass key is 11111. ")))
    memory_a, id_a = corpus.memory()
    with Store(db) as s:
        s.delete_corpus("c")
    corpus.ingest(str(folder(tmp_path / "b", "The secret word is falcon. ")))
    memory_b, id_b = corpus.memory()
    assert id_b == id_a, "the scenario: SQLite gave B's snapshot the id A's had"
    assert not stored(db, corpus).equal(memory_a)
    assert memory_b.equal(stored(db, corpus))


def test_callers_never_share_the_cached_memory(tmp_path, model_dir):
    db = tmp_path / "s.db"
    corpus = Corpus("c", db=db, model=model_dir)
    corpus.ingest(str(folder(tmp_path / "a", "The pass key is 11111. ")))
    first, _ = corpus.memory()
    first.layers[0].M.add_(1.0)
    first.segments += 5
    second, _ = Corpus("c", db=db, model=model_dir).memory()
    assert second is not first
    assert second.equal(stored(db, corpus))


def test_the_memory_cache_is_bounded(tmp_path, model_dir):
    db = tmp_path / "s.db"
    src = str(folder(tmp_path / "a", "The pass key is 11111. "))
    n = docqa.api.MEMORY_CACHE_SIZE + 3
    for i in range(n):
        corpus = Corpus(f"c{i}", db=db, model=model_dir)
        corpus.ingest(src)
        corpus.memory()
    assert len(docqa.api._MEMORIES) == docqa.api.MEMORY_CACHE_SIZE
    assert Corpus("c0", db=db, model=model_dir).memory()[0].equal(stored(db, Corpus("c0", db=db, model=model_dir)))
