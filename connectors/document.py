"""What a connector yields: a `Document` to ingest, or a `Skipped` record saying why not.

A connector's stream is lazy, one item at a time, in a stable order, so that a repository of
100,000 files or a 2,000-page PDF never sits in memory at once, and so that re-ingesting an
unchanged source yields the same items in the same order (the ingest pipeline compares
streams item by item to rewind incrementally).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

SkipKind = Literal["skipped", "failed"]


@dataclass(frozen=True)
class Document:
    """One unit of text the model reads: a file, or one page of a PDF.

    id:       stable within its source: the POSIX path relative to the folder that was
              named (the file name for a single file, "<stdin>" for standard input), plus
              "#page=N" (1-based) for PDF pages.
    uri:      where it came from: the absolute path (link names kept, not resolved), plus
              "#page=N" for PDF pages; "-" for standard input.
    hash:     sha256 hex digest of `text` encoded as UTF-8, so that it changes exactly when
              what the model would read changes (not when only the encoding does).
    metadata: "connector" (registry name of the connector the source was given to: a PDF
              found in a folder says "repo"), "path" (shown in the header), "language"
              (or None), "size" (bytes of the file), and per connector: "encoding",
              "line_start"/"line_end" for text; "page"/"pages" for PDF pages.
    text:     the text, with CRLF line ends turned into LF for text files.
    """

    id: str
    uri: str
    hash: str
    metadata: dict[str, Any]
    text: str

    @classmethod
    def create(cls, id: str, uri: str, text: str, metadata: dict[str, Any]) -> Document:
        """A document whose hash is computed from its text, so the two cannot disagree."""
        return cls(id=id, uri=uri, hash=text_hash(text), metadata=metadata, text=text)


@dataclass(frozen=True)
class Skipped:
    """Something in the source that was not ingested, and why.

    uri:    as for `Document.uri` (a folder's path for a skipped folder).
    reason: a short, stable sentence ("binary file (.png)", "encrypted PDF: no password
            given"). Stable because the pipeline compares it between runs: it never holds
            sizes, timestamps or exception text.
    kind:   "skipped" when a rule or a heuristic left it out on purpose; "failed" when it
            could not be read (permissions, corruption, a wrong password).
    error:  the underlying exception's message for failures, else None.
    """

    uri: str
    reason: str
    kind: SkipKind = "skipped"
    error: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("skipped", "failed"):
            raise ValueError(f"Skipped.kind must be 'skipped' or 'failed', not {self.kind!r}")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def header(doc: Document) -> str:
    """The line the model reads before a document's text, so that answers can say where.

    "### <path>\\n" for a file, "### <path> (page N)\\n" for a PDF page, where <path> is
    `metadata["path"]` (the path relative to the folder that was named) or the id.
    """
    return header_line(shown_path(doc), doc.metadata.get("page"))


def shown_path(doc: Document) -> str:
    """The path a document is known by in its header: `metadata["path"]`, or its id."""
    return doc.metadata.get("path", doc.id)


def header_line(path: str, page: int | None = None) -> str:
    """The header of the file at `path` (of its page `page`), for a document or without one."""
    return f"### {path} (page {page})\n" if page is not None else f"### {path}\n"
