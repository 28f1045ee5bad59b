"""Reading one file as text: binary detection, size limit, encodings, language.

Shared by the folder connector and the text connector, so that a file gives the same document
whether it is named on its own or found in a folder.

Encodings, in this order:
  1. a byte-order mark decides: UTF-8 ("utf-8-sig"), UTF-32 or UTF-16 (LE or BE);
  2. otherwise strict UTF-8 ("utf-8");
  3. otherwise Latin-1 ("latin-1"), which decodes any bytes and is right for the most common
     legacy encodings of Western text. It is the fallback: metadata["encoding"] records it.
The BOM is dropped from the text, and CRLF line ends become LF, so that a checkout with
Windows line ends reads as the same text (and hash) as a Unix one.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path
from typing import Any

from connectors.document import Document, Skipped
from connectors.options import Options

# Extensions whose contents are never text worth reading; checked before opening the file.
BINARY_EXTENSIONS = frozenset("""
    .png .jpg .jpeg .gif .bmp .ico .icns .webp .tif .tiff .psd .heic .avif
    .mp3 .mp4 .m4a .wav .flac .ogg .opus .avi .mov .mkv .webm
    .zip .gz .tgz .bz2 .xz .zst .lz4 .7z .rar .tar .jar .war .whl .egg
    .exe .dll .so .dylib .o .a .lib .obj .pyc .pyo .pyd .class .wasm .bin
    .db .sqlite .sqlite3 .woff .woff2 .ttf .otf .eot
    .pt .pth .safetensors .ckpt .onnx .npy .npz .pkl .pickle .parquet .feather .h5 .hdf5
    .doc .docx .xls .xlsx .ppt .pptx .odt .ods .odp .epub .iso .dmg .deb .rpm .mo
""".split())

PROBE_BYTES = 8000  # git looks for a NUL byte in the first 8000 bytes; so do we

_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)

LANGUAGES = {
    ".py": "python", ".pyi": "python", ".ipynb": "jupyter", ".md": "markdown",
    ".markdown": "markdown", ".rst": "restructuredtext", ".txt": "text", ".c": "c",
    ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".cu": "cuda",
    ".rs": "rust", ".go": "go", ".java": "java", ".kt": "kotlin", ".scala": "scala",
    ".js": "javascript", ".mjs": "javascript", ".jsx": "javascript", ".ts": "typescript",
    ".tsx": "typescript", ".rb": "ruby", ".php": "php", ".swift": "swift", ".cs": "csharp",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ps1": "powershell", ".r": "r",
    ".jl": "julia", ".lua": "lua", ".pl": "perl", ".sql": "sql", ".html": "html",
    ".htm": "html", ".css": "css", ".scss": "scss", ".xml": "xml", ".json": "json",
    ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini", ".cfg": "ini",
    ".tex": "latex", ".csv": "csv", ".proto": "protobuf",
}
_NAMED = {"makefile": "make", "dockerfile": "dockerfile", "cmakelists.txt": "cmake"}


def language(name: str) -> str | None:
    """A language name from the file name, or None; used in metadata only."""
    lower = os.path.basename(name).lower()
    return _NAMED.get(lower) or LANGUAGES.get(os.path.splitext(lower)[1])


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name) by the rules in the module docstring.

    Raises UnicodeDecodeError only for text whose BOM promises UTF-16/32 but lies.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _has_bom(data: bytes) -> bool:
    return any(data.startswith(bom) for bom, _ in _BOMS)


def read_text(path: Path, doc_path: str, uri: str, opts: Options,
              connector: str) -> Document | Skipped:
    """The file at `path` as a Document with id `doc_path`, or why not.

    `path` may be a symlink; it is read through it (the caller decides which links to follow).
    """
    suffix = os.path.splitext(path.name)[1].lower()
    if suffix in BINARY_EXTENSIONS:
        return Skipped(uri, f"binary file ({suffix})")
    try:
        st = os.stat(path)
    except OSError as e:
        return Skipped(uri, "cannot read file", "failed", e.strerror or str(e))
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block, a device never ends
        return Skipped(uri, "not a regular file")
    if st.st_size > opts.max_bytes:
        return Skipped(uri, f"larger than the size limit ({opts.max_bytes} bytes)")
    try:
        with open(path, "rb") as fh:
            data = fh.read(opts.max_bytes + 1)  # the file may have grown since stat
    except OSError as e:
        return Skipped(uri, "cannot read file", "failed", e.strerror or str(e))
    if len(data) > opts.max_bytes:
        return Skipped(uri, f"larger than the size limit ({opts.max_bytes} bytes)")
    return text_document(data, doc_path, uri, connector, size=len(data))


def text_document(data: bytes, doc_path: str, uri: str, connector: str,
                  size: int) -> Document | Skipped:
    """Bytes already read (a file, standard input) as a Document, or why not."""
    if not _has_bom(data) and b"\0" in data[:PROBE_BYTES]:
        return Skipped(uri, "binary content (NUL byte)")
    try:
        text, encoding = decode(data)
    except UnicodeDecodeError as e:
        return Skipped(uri, "invalid text after a UTF-16/32 byte-order mark", "failed", str(e))
    text = text.replace("\r\n", "\n")
    if not text.strip():
        return Skipped(uri, "empty file")
    metadata: dict[str, Any] = {
        "connector": connector, "path": doc_path, "language": language(doc_path),
        "size": size, "encoding": encoding,
        "line_start": 1, "line_end": text.count("\n") + (not text.endswith("\n")),
    }
    return Document.create(doc_path, uri, text, metadata)
