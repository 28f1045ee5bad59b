import io
import sys

import pytest
from connector_helpers import summary

from connectors.document import header
from connectors.errors import SourceError
from connectors.text import TextConnector


def test_a_markdown_file(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Notes\r\nline two\r\n", newline="")
    [doc] = TextConnector().iter_documents(str(path))
    assert (doc.id, doc.uri, doc.text) == ("notes.md", str(path), "# Notes\nline two\n")
    assert doc.metadata == {"connector": "text", "path": "notes.md", "language": "markdown",
                            "size": 19, "encoding": "utf-8", "line_start": 1, "line_end": 2}
    assert header(doc) == "### notes.md\n"


def test_a_file_without_a_final_newline_counts_its_last_line(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one\ntwo")
    [doc] = TextConnector().iter_documents(str(path))
    assert doc.metadata["line_end"] == 2


def test_a_binary_file_named_on_its_own_is_skipped(tmp_path):
    (tmp_path / "data.txt").write_bytes(b"\x00\x01\x02")
    assert summary(TextConnector().iter_documents(str(tmp_path / "data.txt")), tmp_path) == [
        ("skipped", "data.txt", "binary content (NUL byte)"),
    ]


def test_utf16_with_a_lying_bom_fails(tmp_path):
    (tmp_path / "odd.txt").write_bytes(b"\xff\xfeA")  # an odd number of UTF-16 bytes
    assert summary(TextConnector().iter_documents(str(tmp_path / "odd.txt")), tmp_path) == [
        ("failed", "odd.txt", "invalid text after a UTF-16/32 byte-order mark"),
    ]


def _stdin(monkeypatch, data: bytes):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_standard_input_is_read_when_iterated(monkeypatch):
    stream = TextConnector().iter_documents("-")
    _stdin(monkeypatch, b"piped text\n")
    [doc] = stream
    assert (doc.id, doc.uri, doc.text) == ("<stdin>", "-", "piped text\n")
    assert doc.metadata["connector"] == "text"
    assert header(doc) == "### <stdin>\n"


def test_standard_input_over_the_limit_is_skipped(monkeypatch):
    _stdin(monkeypatch, b"x" * 11)
    assert summary(TextConnector().iter_documents("-", max_bytes=10)) == [
        ("skipped", "-", "larger than the size limit (10 bytes)"),
    ]


def test_missing_file_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="nothing.txt: no such file or directory"):
        TextConnector().iter_documents(str(tmp_path / "nothing.txt"))
