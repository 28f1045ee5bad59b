"""Facts about Python code, read with `ast`: which file defines a name, a function's parameters,
a constant's value, a class's base.

The same facts serve twice: as training questions drawn from the Python standard library, and
as a benchmark on a code folder the model never trained on. Every fact has exactly one right
answer in the tree it came from, so names defined more than once are left out.
"""

from __future__ import annotations

import ast
import gc
import os
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from docqa.errors import InputError

QUESTIONS: dict[str, str] = {
    "defines": "Which file defines {subject}?",
    "params": "What are the parameters of {subject}?",
    "constant": "What is the value of {subject}?",
    "base": "What is the base class of {subject}?",
}

MAX_CONSTANT_CHARS = 40  # longer strings are prose, not a value one recalls exactly

_CONSTANT_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_NOT_LITERAL = object()


@dataclass(frozen=True)
class CodeFact:
    kind: str
    subject: str
    answer: str
    path: str  # relative to the root, posix

    @property
    def question(self) -> str:
        return QUESTIONS[self.kind].format(subject=self.subject)


@dataclass
class _Def:
    name: str
    params: str | None  # functions only; "" when there are none
    base: str | None  # classes with exactly one plain base only


@dataclass
class _Module:
    path: str
    defs: list[_Def]
    assigns: list[tuple[str, object]]  # (name, literal value or _NOT_LITERAL), in source order


def code_facts(root: Path, max_files: int | None = None, exclude: tuple[str, ...] = ()) -> list[CodeFact]:
    """Facts from the first max_files `*.py` files under root, in sorted path order.

    Uniqueness is judged within those files. Files that are not UTF-8 or do not parse are
    skipped, as are __pycache__, hidden directories and directories named in `exclude`
    (training passes "site-packages": third-party code is for evaluation only).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"code_facts needs a directory, got {str(root)!r}")
    if max_files is not None and max_files < 0:
        raise InputError(f"max_files must be >= 0 or None, got {max_files}")
    with _gc_paused():
        modules = [m for p in _py_files(root, exclude)[:max_files] if (m := _read(root, p)) is not None]

    def_files: dict[str, set[str]] = defaultdict(set)
    def_count: Counter[str] = Counter()
    const_files: dict[str, set[str]] = defaultdict(set)
    for m in modules:
        for d in m.defs:
            def_files[d.name].add(m.path)
            def_count[d.name] += 1
        for name, _ in m.assigns:
            const_files[name].add(m.path)

    facts = []
    for m in modules:
        facts += _def_facts(m, def_files, def_count)
        facts += _constant_facts(m, const_files)
    return facts


def _def_facts(m: _Module, def_files: dict[str, set[str]],
               def_count: Counter[str]) -> list[CodeFact]:
    facts = []
    for d in m.defs:
        if d.name.startswith("_") or len(def_files[d.name]) != 1:
            continue
        facts.append(CodeFact("defines", d.name, m.path, m.path))
        if def_count[d.name] != 1:  # redefined in the same file: which one is meant?
            continue
        if d.params:
            facts.append(CodeFact("params", d.name, d.params, m.path))
        if d.base is not None:
            facts.append(CodeFact("base", d.name, d.base, m.path))
    return facts


def _constant_facts(m: _Module, const_files: dict[str, set[str]]) -> list[CodeFact]:
    times = Counter(name for name, _ in m.assigns)
    return [CodeFact("constant", name, repr(value) if isinstance(value, str) else str(value),
                     m.path)
            for name, value in m.assigns
            if value is not _NOT_LITERAL and times[name] == 1 and len(const_files[name]) == 1
            and _CONSTANT_NAME.match(name)]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing allocates millions of AST nodes, which are freed by reference counting alone
    (they hold no cycles); with torch loaded the full collections they trigger doubled the time
    to read the standard library."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _py_files(root: Path, exclude: tuple[str, ...] = ()) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".") and d not in exclude]
        files += [Path(dirpath, f) for f in filenames if f.endswith(".py")]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _read(root: Path, path: Path) -> _Module | None:
    try:
        source = path.read_bytes().decode("utf-8")
        with warnings.catch_warnings():  # invalid escapes in old code warn; not our concern
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=str(path))
    except (UnicodeDecodeError, SyntaxError, ValueError):  # ValueError: null bytes in source
        return None
    defs, assigns = [], []
    for stmt in _module_level(tree.body):
        if isinstance(stmt, ast.ClassDef):
            plain = len(stmt.bases) == 1 and isinstance(stmt.bases[0], (ast.Name, ast.Attribute))
            defs.append(_Def(stmt.name, None, ast.unparse(stmt.bases[0]) if plain else None))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs.append(_Def(stmt.name, _params(stmt.args), None))
        elif isinstance(stmt, ast.Assign):
            value = _literal(stmt.value)
            for target in stmt.targets:
                # only `NAME = literal` has a value; tuple targets still count as assignments
                v = value if isinstance(target, ast.Name) else _NOT_LITERAL
                assigns += [(name, v) for name in _target_names(target)]
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            assigns += [(name, _literal(stmt.value)) for name in _target_names(stmt.target)]
        elif isinstance(stmt, ast.AugAssign):
            assigns += [(name, _NOT_LITERAL) for name in _target_names(stmt.target)]
    return _Module(path.relative_to(root).as_posix(), defs, assigns)


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at import time, including those under module-level if/try/with/for,
    since `if sys.platform == ...: def f(): ...` defines f just the same."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, _DEFS):
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(stmt, field, ()):
                yield from _module_level([child] if isinstance(child, ast.stmt) else child.body)


def _params(args: ast.arguments) -> str:
    names = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg:
        names.append(f"*{args.vararg.arg}")
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append(f"**{args.kwarg.arg}")
    return ", ".join(names)


def _literal(node: ast.expr) -> object:
    if not isinstance(node, ast.Constant) or type(node.value) not in (int, float, str):
        return _NOT_LITERAL  # bools are left out too: a yes/no guess is right half the time
    if isinstance(node.value, str) and len(node.value) > MAX_CONSTANT_CHARS:
        return _NOT_LITERAL
    return node.value


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []  # attributes and subscripts bind no module name


def rename_subjects(text: str, facts: list[CodeFact], draw: Callable[[str], str]
                    ) -> tuple[str, list[CodeFact]]:
    """A module's source with every subject of its facts replaced, as a whole word, by a new
    name `draw(old)` gives, and the facts asked about the new names; their answers get the
    same replacement (a parameter, a base class or a string constant may share a subject's
    name). "defines" facts are dropped: their answer, the module's path, stays the standard
    library's, which the weights can hold. A drawn name already in the text, or drawn for
    another subject, is drawn again: with it a question would have two answers.
    """
    subjects = sorted({f.subject for f in facts if f.kind != "defines"}, key=len, reverse=True)
    if not subjects:
        return text, []
    mapping: dict[str, str] = {}
    for s in subjects:
        for _ in range(100):
            new = draw(s)
            if not re.search(rf"\b{re.escape(new)}\b", text) and new not in mapping.values():
                break
        else:
            raise ValueError(f"100 names drawn for {s!r} were all taken in the module")
        mapping[s] = new
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, subjects)) + r")\b")

    def rename(t: str) -> str:
        return pattern.sub(lambda m: mapping[m.group(1)], t)

    return rename(text), [CodeFact(f.kind, mapping[f.subject], rename(f.answer), f.path)
                          for f in facts if f.kind != "defines"]


def top_level_chunks(source: str) -> list[str]:
    """A module's source cut before each top-level statement (its decorators and the comments and
    blank lines just above it go with it): pieces that join back into the source, each whole
    Python. A source that does not parse is one piece."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            body = ast.parse(source).body
    except (SyntaxError, ValueError):
        return [source]
    lines = source.splitlines(keepends=True)
    starts = []
    for stmt in body:
        first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())]) - 1
        while first > 0 and (not lines[first - 1].strip() or lines[first - 1].startswith("#")):
            first -= 1  # the comment block above a statement is about it
        starts.append(first)
    cuts = sorted({0, *starts[1:]} if starts else {0})
    return ["".join(lines[a:b]) for a, b in zip(cuts, cuts[1:] + [len(lines)]) if a < b] or [source]


def facts_in(piece: str, facts: list[CodeFact]) -> list[CodeFact]:
    """The facts, of those found in a piece's whole module, whose subject the piece defines at its
    top level (`def`, `class` or an assignment at column 0): a piece is asked only about what it
    shows."""
    def defined(f: CodeFact) -> bool:
        name = re.escape(f.subject)
        if f.kind == "constant":
            return re.search(rf"^{name}\s*(:[^=\n]*)?=(?!=)", piece, re.M) is not None
        return re.search(rf"^((async\s+)?def|class)\s+{name}\b", piece, re.M) is not None
    return [f for f in facts if defined(f)]
