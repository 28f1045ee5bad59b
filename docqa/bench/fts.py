"""Keyword-search baseline: SQLite FTS5 (BM25) over fixed chunks of the haystack.

This is what a user would pick instead of docqa: no model, just the best-matching chunk for the
question's words. The recall bench reports it in a column beside docqa's, so a recall number on
real documents can be read against the cheap alternative (issue "Recall on real documents").
Only the standard library's sqlite3 is used, and the index lives in memory.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from types import TracebackType

from docqa.errors import InputError, StoreError

MIN_CHUNK_BYTES = 16  # below this a chunk holds too few words to be a fair baseline

STOPWORDS = frozenset("what is the of for a an which who where does do in to and how".split())

_WORD = re.compile(r"[^\W_]+")  # alphanumeric runs, as FTS5's unicode61 tokenizer splits them


def chunks(text: str, chunk_bytes: int) -> list[str]:
    """Consecutive chunks of at most chunk_bytes UTF-8 bytes, cut only between characters."""
    if chunk_bytes < MIN_CHUNK_BYTES:
        raise InputError(f"chunk_bytes must be at least {MIN_CHUNK_BYTES}, got {chunk_bytes}")
    data = text.encode()
    out = []
    start = 0
    while start < len(data):
        end = min(start + chunk_bytes, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: back off
            end -= 1
        out.append(data[start:end].decode())
        start = end
    return out


def match_query(question: str) -> str | None:
    """An FTS5 query OR-ing the question's content words, each quoted so that characters
    such as `"`, `*` or `NEAR(` in a question are searched for, never parsed; None if none."""
    words = [w for w in dict.fromkeys(_WORD.findall(question.lower())) if w not in STOPWORDS]
    return " OR ".join(f'"{w}"' for w in words) or None


class FtsIndex:
    """An in-memory FTS5 index of one text's chunks, or of documents' chunks with their sources.

    Documents are chunked apart, as a retrieval system chunks files: no chunk runs from one file
    into the next, and each remembers the source it came from (`top1_source`), the way such a
    system shows the file beside the chunk it returns.
    """

    def __init__(self, text: str | None = None, chunk_bytes: int = 512,
                 documents: Iterable[tuple[str, str]] | None = None):
        if (text is None) == (documents is None):
            raise InputError("FtsIndex takes either a text or documents (source, text), not both or neither")
        if text is not None:
            rows = [(p, None) for p in chunks(text, chunk_bytes)]
        else:
            rows = [(p, source) for source, body in documents for p in chunks(body, chunk_bytes)]
        self._db = sqlite3.connect(":memory:")
        try:
            self._db.execute("CREATE VIRTUAL TABLE chunks USING fts5(body, source UNINDEXED)")
        except sqlite3.OperationalError as e:
            self._db.close()
            raise StoreError(f"this Python's sqlite3 (SQLite {sqlite3.sqlite_version}) has no FTS5 "
                             f"module ({e}); use a Python built against an SQLite with FTS5") from e
        self._db.executemany("INSERT INTO chunks (body, source) VALUES (?, ?)", rows)

    def top1(self, question: str) -> str | None:
        """The chunk ranked best by BM25 for the question's words, or None if nothing matches."""
        row = self._best(question)
        return row[0] if row else None

    def top1_source(self, question: str) -> str | None:
        """The source of the best chunk (see `top1`); None if nothing matches or the index is of one text."""
        row = self._best(question)
        return row[1] if row else None

    def _best(self, question: str) -> tuple[str, str | None] | None:
        query = match_query(question)
        if query is None:
            return None
        # rowid breaks ties so equal scores always give the earlier chunk
        return self._db.execute("SELECT body, source FROM chunks WHERE chunks MATCH ? "
                                "ORDER BY bm25(chunks), rowid LIMIT 1", (query,)).fetchone()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FtsIndex:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def top1_contains(text: str, question: str, answer: str, chunk_bytes: int = 512) -> bool:
    """Whether the top-1 chunk for the question holds the answer: the baseline's recall hit.
    An answer cut by a chunk boundary counts as a miss, as it would for a real user."""
    with FtsIndex(text, chunk_bytes) as index:
        chunk = index.top1(question)
    return chunk is not None and answer in chunk
