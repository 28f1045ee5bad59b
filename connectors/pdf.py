"""PDF files, page by page, with pypdf: one Document per page that has text.

The file is read through an open handle (pypdf seeks and reads what it needs) rather than
loaded whole, and pypdf's reader, which caches every object it parses, is replaced every
`REOPEN_EVERY` pages, so that memory stays flat on a 2,000-page file instead of growing with
the pages read (measured in benchmarks/bench_connectors.py).

Nothing in a PDF stops a run: an empty, corrupt or truncated file, an encrypted one without
(or with the wrong) password, and a page without extractable text (a scan without OCR) each
become a Skipped record, and the other pages go on.
"""

from __future__ import annotations

import gc
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from connectors.document import Document, Skipped
from connectors.options import Options
from connectors.paths import existing_file

REOPEN_EVERY = 500  # pages per reader: keeps its cache to ~2 MB, for ~10% more time

# pypdf reports most damage as PyPdfError, but malformed files also surface as these
# builtins from deep inside its parser; all of them mean "this file (or page) is broken".
MALFORMED = (PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError,
             AssertionError, RecursionError, zlib.error, struct.error)


class PdfConnector:
    """A single PDF file (named on its own; folders hand their PDFs to `pdf_pages`)."""

    name = "pdf"

    def iter_documents(self, source: str, **options: object) -> Iterator[Document | Skipped]:
        opts = Options.from_kwargs(**options)
        path = existing_file(source)
        return pdf_pages(path, path.name, str(path), opts, self.name)

    def size_hint(self, source: str, **options: object) -> int:
        """The file's size (each page stands for its share of it)."""
        return existing_file(source).stat().st_size


def pdf_pages(path: Path, doc_path: str, uri: str, opts: Options, connector: str = "pdf",
              reopen_every: int = REOPEN_EVERY) -> Iterator[Document | Skipped]:
    """The pages of the PDF at `path` that have text, in order, and a record for each other;
    a new reader every `reopen_every` pages (benchmarks/bench_connectors.py varies it)."""
    try:
        size = os.stat(path).st_size
        if size == 0:
            yield Skipped(uri, "empty file")
            return
        with open(path, "rb") as fh:
            yield from _pages(fh, doc_path, uri, opts, connector, size, reopen_every)
    except OSError as e:
        yield Skipped(uri, "cannot read file", "failed", e.strerror or str(e))


def _pages(fh: BinaryIO, doc_path: str, uri: str, opts: Options, connector: str,
           size: int, reopen_every: int) -> Iterator[Document | Skipped]:
    reader = _open(fh, uri, opts.password)
    if isinstance(reader, Skipped):
        yield reader
        return
    try:
        count = len(reader.pages)
    except MALFORMED as e:
        yield Skipped(uri, "corrupt or truncated PDF", "failed", str(e))
        return
    for index in range(count):
        if index and index % reopen_every == 0:
            # pypdf's objects point back at their reader, so only the cycle collector frees
            # the old reader's cache; collect before the new reader builds its own.
            del reader
            gc.collect()
            reader = _open(fh, uri, opts.password)
            if isinstance(reader, Skipped):  # it opened a moment ago, so this is unexpected
                yield reader
                return
        yield _page(reader, index, count, doc_path, uri, connector, size)


def _page(reader: PdfReader, index: int, count: int, doc_path: str, uri: str,
          connector: str, size: int) -> Document | Skipped:
    number = index + 1
    page_uri = f"{uri}#page={number}"
    try:
        text = reader.pages[index].extract_text()
    except MALFORMED as e:
        return Skipped(page_uri, "cannot extract text from page", "failed", str(e))
    if not text.strip():
        return Skipped(page_uri, "no extractable text on page (scanned or image-only)")
    metadata = {"connector": connector, "path": doc_path, "language": None, "size": size,
                "page": number, "pages": count}
    return Document.create(f"{doc_path}#page={number}", page_uri, text, metadata)


def _open(fh: BinaryIO, uri: str, password: str | None) -> PdfReader | Skipped:
    """A reader ready to read pages, or why there is none."""
    fh.seek(0)
    try:
        reader = PdfReader(fh)  # tries the empty user password by itself
        if reader.is_encrypted:
            if password is None:
                if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                    return Skipped(uri, "encrypted PDF: no password given")
            elif reader.decrypt(password) == PasswordType.NOT_DECRYPTED:
                return Skipped(uri, "encrypted PDF: wrong password", "failed")
    except DependencyError as e:
        return Skipped(uri, "encrypted PDF: decrypting needs pypdf[crypto]", "failed", str(e))
    except MALFORMED as e:
        return Skipped(uri, "corrupt or truncated PDF", "failed", str(e))
    return reader
