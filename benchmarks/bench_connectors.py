"""Connector throughput and memory on this machine. A script, not a test: it prints tables.

    python benchmarks/bench_connectors.py [--folder PATH] [--pages 2000]

1. The repo connector over a large real folder (default: this Python's standard library),
   twice: the first pass may read from disk, the second from the page cache.
2. The PDF connector over a PDF it generates (`--pages` pages of text): time, then
   tracemalloc's peak (Python allocations only) in a second pass; once as shipped (reader reopened every `pdf.REOPEN_EVERY` pages) and once with a
   single reader for the whole file, to show what reopening buys.
"""

from __future__ import annotations

import argparse
import io
import sysconfig
import tempfile
import time
import tracemalloc
from pathlib import Path

from connectors import pdf
from connectors.document import Document
from connectors.options import Options
from connectors.repo import RepoConnector

LINE = "The quarterly report covers revenue, costs and outlook for each region, line {}."


def folder_pass(folder: str) -> tuple[int, int, int, float]:
    """(documents, skipped, text bytes, seconds) for one pass over `folder`."""
    docs = skipped = nbytes = 0
    t0 = time.perf_counter()
    for item in RepoConnector().iter_documents(folder):
        if isinstance(item, Document):
            docs += 1
            nbytes += item.metadata["size"]
        else:
            skipped += 1
    return docs, skipped, nbytes, time.perf_counter() - t0


def make_pdf(path: Path, pages: int, lines: int = 40) -> None:
    """A PDF with `lines` lines of Helvetica text per page, written object by object."""
    font = 3 + 2 * pages
    out = io.BytesIO()
    offsets: list[int] = []

    def obj(body: bytes) -> None:
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (len(offsets), body))

    out.write(b"%PDF-1.4\n")
    obj(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages)).encode()
    obj(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages))
    for i in range(pages):
        obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources"
            b" << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font, 4 + 2 * i))
        text = "\n".join(f"({LINE.format(i * lines + j)}) Tj T*" for j in range(lines))
        stream = f"BT /F1 9 Tf 11 TL 36 760 Td\n{text}\nET".encode()
        obj(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    obj(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % off for off in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(offsets) + 1, xref))
    path.write_bytes(out.getvalue())


def pdf_pass(path: Path, reopen_every: int, traced: bool) -> tuple[int, int, float, int]:
    """(pages with text, text bytes, seconds, tracemalloc peak bytes or 0) for one pass."""
    if traced:
        tracemalloc.start()
    t0 = time.perf_counter()
    docs = nbytes = 0
    for item in pdf.pdf_pages(path, path.name, str(path), Options(), reopen_every=reopen_every):
        if isinstance(item, Document):
            docs += 1
            nbytes += len(item.text.encode())
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    tracemalloc.stop()
    return docs, nbytes, seconds, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--pages", type=int, default=2000)
    args = ap.parse_args()

    print(f"repo connector over {args.folder}\n")
    print("| pass | documents | skipped | MB read | seconds | documents/s | MB/s |")
    print("|---|---|---|---|---|---|---|")
    for name in ("first", "second"):
        docs, skipped, nbytes, s = folder_pass(args.folder)
        print(f"| {name} | {docs} | {skipped} | {nbytes / 1e6:.1f} | {s:.2f} | {docs / s:,.0f}"
              f" | {nbytes / 1e6 / s:.1f} |")

    shipped = pdf.REOPEN_EVERY
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.pdf"
        make_pdf(path, args.pages)
        size = path.stat().st_size
        print(f"\npdf connector over a generated {args.pages}-page PDF ({size / 1e6:.1f} MB);"
              " time untraced, peak from a second pass under tracemalloc\n")
        print("| reader | pages | text MB | seconds | pages/s | text MB/s | peak Python memory MB |")
        print("|---|---|---|---|---|---|---|")
        for label, every in ((f"reopened every {shipped} pages", shipped),
                             ("one reader for the whole file", args.pages + 1)):
            docs, nbytes, s, _ = pdf_pass(path, every, traced=False)
            peak = pdf_pass(path, every, traced=True)[3]
            print(f"| {label} | {docs} | {nbytes / 1e6:.1f} | {s:.1f} | {docs / s:,.0f}"
                  f" | {nbytes / 1e6 / s:.2f} | {peak / 1e6:.1f} |")


if __name__ == "__main__":
    main()
