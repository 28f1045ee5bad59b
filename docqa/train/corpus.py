"""Training text: real prose and real code that any Debian machine with Python has, offline.

Sources (the training-data discipline of DEVELOPERS.md: never site-packages, never a download):
- "code":  the Python standard library's own `.py` files (its `site-packages` is excluded);
- "prose": the standard library's docstrings, the Python documentation's reST sources
           (`apt-get install python3-doc` puts them under /usr/share/doc/python3.X/html/_sources),
           English man pages (sections 1-8, roff markup stripped) and the plain-text files
           Debian packages install under /usr/share/doc;
- "fields": key-value header text that no task asks about (`Field: value` lines, as a package's
           metadata or a mail's headers are): the machine-readable copyright files Debian packages
           install (/usr/share/doc/*/copyright) and the standard library's own test mails
           (test/test_email/data/msg_*.txt). Only asked for: older runs' text stays as it was.
Whatever is missing on a machine is skipped; `describe()` says what was found, so a run's
record names its text. Files are read in sorted order and cut to `max_chars`, so the same
machine gives the same text.
"""

from __future__ import annotations

import ast
import gzip
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

DOC_ROOT = Path("/usr/share/doc")
MAN_ROOT = Path("/usr/share/man")
_ROFF_REQUEST = re.compile(r"^['.]\S*\s?")
_ROFF_ESCAPE = re.compile(r"\\f(\[[^\]]*\]|\(..|.)|\\[(*](..)?|\\[&|^/,~:%]|\\s[+-]?\d")
# a copyright file's stanzas come first and its license texts after, prose the prose pool has
FIELD_CHARS = 3000
_HIDDEN = ("site-packages", "__pycache__", "idlelib", "lib2to3")


@dataclass
class Text:
    kind: str  # "code", "prose" or "fields"
    source: str  # "stdlib", "docstrings", "python-docs", "man", "debian-docs", "debian-copyright", "stdlib-mail"
    path: str
    text: str


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _stdlib_files(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*.py")) if not any(h in p.parts for h in _HIDDEN)]


def _read(path: Path, max_chars: int) -> str | None:
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
        return raw.decode("utf-8")[:max_chars]
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):  # unreadable: not training text
        return None


def strip_roff(src: str) -> str:
    """Man-page source -> plain text: requests dropped (their arguments kept), escapes removed."""
    out = []
    start = src.find("\n.SH")  # what comes before the first section is macro definitions
    for line in src[start + 1 if start >= 0 else 0:].splitlines():
        if line.startswith(('.\\"', "'\\\"")):
            continue
        line = _ROFF_ESCAPE.sub("", _ROFF_REQUEST.sub("", line) if line[:1] in ".'" else line)
        if line.strip():
            out.append(line.replace("\\e", "\\").replace("\\-", "-"))
    return "\n".join(out)


def docstrings(src: str) -> list[str]:
    try:
        tree = ast.parse(src)
    except SyntaxError:  # a file for another Python version, or a deliberate test of bad syntax
        return []
    nodes = (n for n in ast.walk(tree)
             if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)))
    return [d for n in nodes if (d := ast.get_docstring(n)) and len(d) > 80]


def load_texts(kinds: tuple[str, ...] = ("code", "prose"), max_files: int = 4000,
               max_chars: int = 60_000, min_chars: int = 400) -> list[Text]:
    """Every training text found on this machine, up to `max_files` per source."""
    texts: list[Text] = []
    root = stdlib_root()
    code_files = _stdlib_files(root)[:max_files]
    if "code" in kinds:
        for p in code_files:
            if (t := _read(p, max_chars)) and len(t) >= min_chars:
                texts.append(Text("code", "stdlib", str(p.relative_to(root)), t))
    if "prose" in kinds:
        texts += _prose_texts(root, code_files, max_files, max_chars, min_chars)
    if "fields" in kinds:
        texts += _field_texts(root, max_files, min(max_chars, FIELD_CHARS))
    return texts


def _prose_texts(root: Path, code_files: list[Path], max_files: int, max_chars: int, min_chars: int) -> list[Text]:
    texts: list[Text] = []
    for p in code_files:
        if (t := _read(p, 10 * max_chars)) and (docs := docstrings(t)):
            texts.append(Text("prose", "docstrings", str(p.relative_to(root)), "\n\n".join(docs)[:max_chars]))
    sources = [("python-docs", sorted({p.resolve() for p in DOC_ROOT.glob("python3*/html/_sources/**/*.rst.txt")}), lambda s: s),
               ("man", sorted(p for d in sorted(MAN_ROOT.glob("man[1-8]")) for p in d.glob("*.gz")), strip_roff),
               ("debian-docs", sorted(p for p in DOC_ROOT.rglob("*")
                                      if p.suffix in (".txt", ".md", ".rst") and "_sources" not in p.parts),
                lambda s: s)]
    for name, paths, clean in sources:
        for p in paths[::max(1, len(paths) // max_files)][:max_files]:  # spread over the whole list
            if (t := _read(p, max_chars)) is not None and len(t := clean(t)) >= min_chars:
                texts.append(Text("prose", name, str(p), t))
    return texts


def _field_texts(root: Path, max_files: int, max_chars: int) -> list[Text]:
    """Files that are mostly `Field: value` lines. No length floor: a short mail is all headers."""
    texts: list[Text] = []
    for name, paths in (("debian-copyright", sorted(DOC_ROOT.glob("*/copyright"))),
                        ("stdlib-mail", sorted((root / "test" / "test_email" / "data").glob("msg_*.txt")))):
        for p in paths[:max_files]:
            if t := _read(p, max_chars):
                texts.append(Text("fields", name, str(p), t))
    return texts


def describe(texts: list[Text]) -> dict[str, dict[str, int]]:
    """{source: {"files": n, "chars": n}}: what a run trained on, for its record."""
    out: dict[str, dict[str, int]] = {}
    for t in texts:
        d = out.setdefault(t.source, {"files": 0, "chars": 0})
        d["files"] += 1
        d["chars"] += len(t.text)
    return out
