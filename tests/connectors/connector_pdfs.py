"""Build small PDFs for the connector tests: text pages by hand, the rest with pypdf.

pypdf writes blank pages but no text, so `text_pdf` writes a minimal PDF 1.4 file itself:
a catalog, a page tree, one Helvetica font and one content stream per page, with a correct
cross-reference table so that pypdf reads it without falling back to its repair path.
"""

from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _content(lines: list[str]) -> bytes:
    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    ops += [f"({_escape(line)}) Tj T*" for line in lines]
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def text_pdf(pages: list[str | None]) -> bytes:
    """A PDF with one page per item: its lines as text, or no content stream for None."""
    n = len(pages)
    font_num = 3 + 2 * n  # 1 catalog, 2 page tree, then (page, content) pairs, then the font
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        ("<< /Type /Pages /Kids [%s] /Count %d >>"
         % (" ".join(f"{3 + 2 * i} 0 R" for i in range(n)), n)).encode(),
    ]
    for i, text in enumerate(pages):
        contents = f" /Contents {4 + 2 * i} 0 R" if text is not None else ""
        objects.append((f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
                        f" /Resources << /Font << /F1 {font_num} 0 R >> >>{contents} >>").encode())
        stream = _content(text.splitlines() if text is not None else [])
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (num, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def blank_pdf(pages: int) -> bytes:
    """Pages with nothing to extract, as a scanned document without OCR looks to pypdf."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(data: bytes, user_password: str, algorithm: str = "AES-256") -> bytes:
    """`data` re-written with a user password (an empty one opens without asking)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, owner_password="owner-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
