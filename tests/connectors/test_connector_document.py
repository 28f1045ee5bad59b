import hashlib

import pytest

from connectors.document import Document, Skipped, header


def test_create_hashes_the_text_as_utf8():
    doc = Document.create("a/b.py", "/r/a/b.py", "héllo\n", {"path": "a/b.py"})
    assert doc.hash == hashlib.sha256("héllo\n".encode()).hexdigest()


def test_header_for_a_file_and_a_pdf_page():
    file_doc = Document.create("src/x.py", "/r/src/x.py", "x = 1\n", {"path": "src/x.py"})
    page = Document.create("r.pdf#page=3", "/r/r.pdf#page=3", "text",
                           {"path": "docs/r.pdf", "page": 3, "pages": 9})
    assert header(file_doc) == "### src/x.py\n"
    assert header(page) == "### docs/r.pdf (page 3)\n"


def test_header_falls_back_to_the_id():
    assert header(Document.create("<stdin>", "-", "x", {})) == "### <stdin>\n"


def test_documents_are_frozen():
    doc = Document.create("a", "/a", "x", {})
    with pytest.raises(AttributeError):
        doc.text = "y"


def test_skipped_kind_is_checked():
    assert Skipped("/a", "why").kind == "skipped"
    with pytest.raises(ValueError, match="'oops'"):
        Skipped("/a", "why", "oops")
