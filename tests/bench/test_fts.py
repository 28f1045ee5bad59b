import pytest

from docqa.bench import fts
from docqa.bench.fts import FtsIndex, chunks, match_query, top1_contains
from docqa.errors import InputError, StoreError

FILLER = "The grass is green. The sky is blue. The sun is yellow. "


def haystack(needle: str, at: int, n: int = 10) -> list[str]:
    """n 64-byte paragraphs of filler, the one at index `at` ending with the needle."""
    paras = []
    for i in range(n):
        tail = needle if i == at else ""
        body = (FILLER * 2)[:64 - len(tail.encode())] + tail
        paras.append(body)
    return paras


@pytest.mark.parametrize("text", ["", "abc", "x" * 100, "héllo wörld " * 20, "日本語のテキスト" * 30,
                                  "emoji 🎉🎉🎉 party " * 15, "a🎉" * 40])
@pytest.mark.parametrize("size", [16, 17, 18, 19, 33])
def test_chunks_fit_and_rebuild_the_text(text, size):
    parts = chunks(text, size)
    assert "".join(parts) == text
    assert all(0 < len(p.encode()) <= size for p in parts)


def test_chunks_cut_before_a_multibyte_character_not_inside_it():
    # 15 ASCII bytes then a 4-byte emoji: the emoji cannot fit in a 16-byte chunk
    assert chunks("a" * 15 + "🎉" + "b", 16) == ["a" * 15, "🎉b"]


def test_chunk_bytes_too_small_is_refused_with_the_value():
    with pytest.raises(InputError, match="chunk_bytes must be at least 16, got 15"):
        FtsIndex("some text", chunk_bytes=15)
    with pytest.raises(InputError, match="got 0"):
        top1_contains("some text", "q", "a", chunk_bytes=0)


def test_query_drops_stopwords_and_quotes_words():
    assert match_query("What is the pass key of the vault?") == '"pass" OR "key" OR "vault"'
    assert match_query('Where is "NEAR(x y)" or foo* AND -bar?') == \
        '"near" OR "x" OR "y" OR "or" OR "foo" OR "bar"'
    assert match_query("Who is the one, the one?") == '"one"'  # repeats searched once


@pytest.mark.parametrize("question", ["What is the?", "", "?!*\"", "how do"])
def test_question_without_content_words_gives_none(question):
    with FtsIndex(FILLER * 10, 64) as index:
        assert index.top1(question) is None


def test_rare_word_picks_its_chunk_over_common_ones():
    paras = haystack(" zanzibar 4417.", at=6)
    with FtsIndex("".join(paras), 64) as index:
        # "sky" and "green" are in every chunk; only the rare word singles one out
        assert index.top1("Which green sky has the zanzibar number?") == paras[6]


def test_no_match_gives_none():
    with FtsIndex(FILLER * 10, 64) as index:
        assert index.top1("Where is the platypus?") is None


def test_empty_text_matches_nothing():
    with FtsIndex("", 64) as index:
        assert index.top1("Where is the platypus?") is None


@pytest.mark.parametrize("question", [
    'What is "the pass key"?', "What is NEAR(pass key)?", "pass* key^2 OR AND NOT",
    "What is (key:value)?", "key - - + ; DROP TABLE chunks; --", 'unbalanced " pass key',
    "column:body pass key", "{body} : ^pass",
])
def test_fts5_syntax_in_question_does_not_break_the_query(question):
    text = "".join(haystack(" the pass key is 4417.", at=3))
    with FtsIndex(text, 64) as index:
        chunk = index.top1(question)
    assert chunk is not None and "4417" in chunk


def test_top1_contains_hit_and_miss():
    text = "".join(haystack(" the vault code is 90210.", at=4))
    assert top1_contains(text, "What is the vault code?", "90210", chunk_bytes=64)
    assert not top1_contains(text, "What is the vault code?", "31337", chunk_bytes=64)
    assert not top1_contains(text, "What is the?", "90210", chunk_bytes=64)


def test_answer_cut_by_a_chunk_boundary_is_a_miss():
    text = "x" * 20 + " vault 12345678"  # 16-byte chunks split the number
    assert not top1_contains(text, "vault?", "12345678", chunk_bytes=16)
    assert top1_contains(text, "vault?", "12345678", chunk_bytes=64)


def test_equal_scores_give_the_earliest_chunk():
    with FtsIndex("alpha beta gamma " * 8, 17) as index:
        assert index.top1("beta") == "alpha beta gamma "


def test_close_releases_the_database():
    index = FtsIndex(FILLER, 64)
    index.close()
    with pytest.raises(Exception, match="closed"):
        index.top1("grass")


def test_missing_fts5_is_a_clear_store_error(monkeypatch):
    import sqlite3

    class NoFts:
        def __init__(self, *args):
            self.closed = False

        def execute(self, sql, *args):
            raise sqlite3.OperationalError("no such module: fts5")

        def close(self):
            self.closed = True

    db = NoFts()
    monkeypatch.setattr(fts.sqlite3, "connect", lambda *a: db)
    with pytest.raises(StoreError, match="has no FTS5 module.*no such module: fts5"):
        FtsIndex(FILLER, 64)
    assert db.closed


def test_documents_are_chunked_apart_and_a_chunk_names_its_source():
    docs = [("a.txt", "alpha " * 20), ("b.txt", "beta zanzibar " + "gamma " * 3), ("c.txt", "")]
    with FtsIndex(documents=docs, chunk_bytes=64) as index:
        bodies = [b for (b,) in index._db.execute("SELECT body FROM chunks ORDER BY rowid")]
        assert index.top1("zanzibar") == "beta zanzibar " + "gamma " * 3  # not run on into a's tail
        assert index.top1_source("zanzibar") == "b.txt"
        assert index.top1_source("alpha") == "a.txt"
        assert index.top1_source("platypus") is None and index.top1_source("the") is None
    assert bodies == chunks("alpha " * 20, 64) + ["beta zanzibar " + "gamma " * 3]


def test_a_single_text_has_no_source_and_text_and_documents_exclude_each_other():
    with FtsIndex("alpha beta", 64) as index:
        assert index.top1("beta") == "alpha beta" and index.top1_source("beta") is None
    for bad in ({}, {"text": "x", "documents": [("a", "x")]}):
        with pytest.raises(InputError, match="either a text or documents"):
            FtsIndex(**bad)
