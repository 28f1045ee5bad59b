"""Plain text and Markdown files named on their own, and standard input ("-").

A file reads exactly as it would inside a folder (`textfile.read_text`: encodings, binary
and size checks), with its file name as id and header path. Standard input is read when
the stream is iterated, not when it is created, up to `max_bytes`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from connectors.document import Document, Skipped
from connectors.options import Options
from connectors.paths import existing_file
from connectors.textfile import read_text, text_document

STDIN = "-"
STDIN_ID = "<stdin>"


class TextConnector:
    name = "text"

    def iter_documents(self, source: str, **options: object) -> Iterator[Document | Skipped]:
        opts = Options.from_kwargs(**options)
        if source == STDIN:
            return _stdin(opts, self.name)
        path = existing_file(source)
        return _file(path, opts, self.name)

    def size_hint(self, source: str, **options: object) -> int | None:
        """The file's size; None for standard input, which is read as the stream goes."""
        return None if source == STDIN else existing_file(source).stat().st_size


def _file(path, opts: Options, connector: str) -> Iterator[Document | Skipped]:
    yield read_text(path, path.name, str(path), opts, connector)


def _stdin(opts: Options, connector: str) -> Iterator[Document | Skipped]:
    data = sys.stdin.buffer.read(opts.max_bytes + 1)
    if len(data) > opts.max_bytes:
        yield Skipped(STDIN, f"larger than the size limit ({opts.max_bytes} bytes)")
        return
    yield text_document(data, STDIN_ID, STDIN, connector, size=len(data))
