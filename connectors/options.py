"""The options docqa's own connectors accept, checked once at the boundary.

All three built-in connectors take the same set, because a folder hands its PDFs to the PDF
connector and one ingest run passes the same options to every path it was given; an option
that does not concern a connector (`password` for plain text) is accepted and unused.
Unknown names and wrong kinds of value raise `OptionError` instead of being ignored.
`None` for any option means its default, so that a CLI can pass unset flags straight on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from connectors.errors import OptionError

MiB = 1024 * 1024

# Folders that hold installed, vendored, generated or cached files rather than the project's
# own text. Matched by folder name at any depth; each is reported once as a Skipped record.
# Virtual environments are found by their pyvenv.cfg instead of by a name like "venv",
# which is also the name of a standard-library package.
DEFAULT_SKIP_DIRS = frozenset({
    "node_modules", "bower_components", "vendor", "site-packages",
    "__pycache__", ".venv", ".tox", ".nox", ".eggs",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".ipynb_checkpoints",
    "dist", "build", "target", "htmlcov", ".gradle", ".next", ".nuxt", ".terraform",
    ".idea", ".cache",
})

# Version-control internals: never content, so left out silently, not reported.
VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})


@dataclass(frozen=True)
class Options:
    include: tuple[str, ...] = ()  # gitignore-style globs; if given, only matching files
    exclude: tuple[str, ...] = ()  # gitignore-style globs; matching files are left out
    max_bytes: int = 1 * MiB  # larger text files are skipped: rarely prose, often data dumps
    skip_dirs: frozenset[str] = DEFAULT_SKIP_DIRS  # folder names skipped (reported once each)
    follow_outside: bool = False  # follow symlinks that leave the folder that was named
    password: str | None = None  # for encrypted PDFs
    use_git: bool = True  # inside a git work tree, ask git which files it would track

    @classmethod
    def from_kwargs(cls, **options: object) -> Options:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise OptionError(f"unknown connector option(s) {', '.join(unknown)};"
                              f" known: {', '.join(sorted(known))}")
        given = {k: v for k, v in options.items() if v is not None}
        for name in ("include", "exclude"):
            if name in given:
                given[name] = _globs(name, given[name])
        if "skip_dirs" in given:
            given["skip_dirs"] = frozenset(_globs("skip_dirs", given["skip_dirs"]))
        for name in ("follow_outside", "use_git"):
            if name in given and not isinstance(given[name], bool):
                raise OptionError(f"{name} must be True or False, not {given[name]!r}")
        max_bytes = given.get("max_bytes", cls.max_bytes)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise OptionError(f"max_bytes must be a positive integer, not {max_bytes!r}")
        if "password" in given and not isinstance(given["password"], str):
            raise OptionError("password must be a string")
        return cls(**given)


def _globs(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise OptionError(f"{name} must be a list of strings, not {value!r}")
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        raise OptionError(f"{name} must be a list of strings, not {items!r}")
    return items
