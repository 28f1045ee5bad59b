import pytest
from connector_helpers import summary
from connector_pdfs import blank_pdf, encrypted_pdf, text_pdf
from pypdf import PageObject
from pypdf.errors import PdfReadError

from connectors import pdf
from connectors.document import header
from connectors.errors import SourceError
from connectors.pdf import PdfConnector

NO_TEXT = "no extractable text on page (scanned or image-only)"


def pages(path, **options):
    return list(PdfConnector().iter_documents(str(path), **options))


@pytest.fixture
def report(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(text_pdf(["Revenue grew\nin 2024", None, "Costs (fell)"]))
    return path


def test_pages_in_order_with_page_numbers(report, tmp_path):
    items = pages(report)
    assert summary(items, tmp_path) == [
        ("doc", "report.pdf#page=1"),
        ("skipped", "report.pdf#page=2", NO_TEXT),
        ("doc", "report.pdf#page=3"),
    ]
    first, third = items[0], items[2]
    assert first.text == "Revenue grew\nin 2024\n"
    assert third.text == "Costs (fell)\n"
    assert first.uri == f"{report}#page=1"
    assert third.metadata == {"connector": "pdf", "path": "report.pdf", "language": None,
                              "size": report.stat().st_size, "page": 3, "pages": 3}
    assert header(third) == "### report.pdf (page 3)\n"


def test_image_only_pages_are_skipped_not_fatal(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(blank_pdf(2))
    assert summary(pages(path), tmp_path) == [
        ("skipped", "scan.pdf#page=1", NO_TEXT), ("skipped", "scan.pdf#page=2", NO_TEXT),
    ]


def test_encrypted_without_password_is_skipped(tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf(text_pdf(["secret"]), "pw"))
    assert summary(pages(path), tmp_path) == [
        ("skipped", "locked.pdf", "encrypted PDF: no password given"),
    ]


def test_encrypted_with_wrong_password_fails(tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf(text_pdf(["secret"]), "pw"))
    assert summary(pages(path, password="nope"), tmp_path) == [
        ("failed", "locked.pdf", "encrypted PDF: wrong password"),
    ]


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_encrypted_with_the_password_reads(tmp_path, algorithm):
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf(text_pdf(["secret one", "secret two"]), "pw", algorithm))
    assert [d.text for d in pages(path, password="pw")] == ["secret one\n", "secret two\n"]


def test_encrypted_with_an_empty_user_password_needs_none(tmp_path):
    path = tmp_path / "owner-only.pdf"
    path.write_bytes(encrypted_pdf(text_pdf(["open to all"]), ""))
    assert [d.text for d in pages(path)] == ["open to all\n"]


def test_truncated_corrupt_and_empty_files(tmp_path):
    data = text_pdf(["a page"] * 4)
    (tmp_path / "truncated.pdf").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.pdf").write_bytes(b"this is not a PDF at all\n" * 20)
    (tmp_path / "empty.pdf").write_bytes(b"")
    got = {name: summary(pages(tmp_path / name), tmp_path)
           for name in ("truncated.pdf", "garbage.pdf", "empty.pdf")}
    assert got == {
        "truncated.pdf": [("failed", "truncated.pdf", "corrupt or truncated PDF")],
        "garbage.pdf": [("failed", "garbage.pdf", "corrupt or truncated PDF")],
        "empty.pdf": [("skipped", "empty.pdf", "empty file")],
    }


def test_a_page_that_breaks_is_a_failed_record_and_the_rest_go_on(report, tmp_path, monkeypatch):
    real = PageObject.extract_text

    def extract(self, *args, **kwargs):
        if "Revenue" in real(self):
            raise PdfReadError("bad content stream")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", extract)
    assert summary(pages(report), tmp_path) == [
        ("failed", "report.pdf#page=1", "cannot extract text from page"),
        ("skipped", "report.pdf#page=2", NO_TEXT),
        ("doc", "report.pdf#page=3"),
    ]


def test_reader_is_reopened_without_changing_the_output(tmp_path, monkeypatch):
    path = tmp_path / "long.pdf"
    path.write_bytes(encrypted_pdf(text_pdf([f"page {i}" for i in range(1, 8)]), "pw"))
    monkeypatch.setattr(pdf, "REOPEN_EVERY", 3)
    assert [d.text for d in pages(path, password="pw")] == [f"page {i}\n" for i in range(1, 8)]


def test_missing_file_or_folder_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="gone.pdf: no such file or directory"):
        pages(tmp_path / "gone.pdf")
    with pytest.raises(SourceError, match="is a folder"):
        pages(tmp_path)


def test_unreadable_file_is_a_source_error_when_named(report, unreadable):
    unreadable.add(str(report))
    with pytest.raises(SourceError, match="report.pdf: cannot be read \\(Permission denied\\)"):
        pages(report)
