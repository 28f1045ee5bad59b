"""Gitignore semantics for folders, with pathspec's GitIgnoreSpec.

Ignore files (".gitignore", ".docqaignore") may sit in any folder; their patterns are
relative to that folder (so "/build" is anchored there and "*.log" matches below it). As in
git, a deeper file overrides a shallower one, a later pattern overrides an earlier one ("!"
re-includes), and nothing inside an ignored folder can be re-included.
"""

from __future__ import annotations

from pathlib import Path

from pathspec import GitIgnoreSpec


class IgnoreRules:
    """The ignore files named `filenames` found in the folders of a tree rooted at `root`."""

    def __init__(self, root: Path, filenames: tuple[str, ...]):
        self.root, self.filenames = root, filenames
        self._specs: dict[str, GitIgnoreSpec | None] = {}

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether `rel` (POSIX, relative to the root) is ignored, its folders assumed not."""
        parts = rel.split("/")
        decision = None
        for depth in range(len(parts)):
            spec = self._spec("/".join(parts[:depth]))
            if spec is None:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            result = spec.check_file(sub)
            if result.include is not None:
                decision = result.include
        return bool(decision)

    def ignored_with_parents(self, rel: str, is_dir: bool) -> bool:
        """Whether `rel` or any folder above it is ignored (for paths not found by walking)."""
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            if self.ignored("/".join(parts[:depth]), is_dir=True):
                return True
        return self.ignored(rel, is_dir)

    def _spec(self, folder: str) -> GitIgnoreSpec | None:
        if folder not in self._specs:
            lines: list[str] = []
            base = self.root / folder if folder else self.root
            for name in self.filenames:
                try:
                    lines += (base / name).read_text(encoding="utf-8", errors="replace").splitlines()
                except OSError:  # absent (the common case) or unreadable: no rules from it
                    continue
            self._specs[folder] = GitIgnoreSpec.from_lines(lines) if lines else None
        return self._specs[folder]


def globs(patterns: tuple[str, ...]) -> GitIgnoreSpec | None:
    """Include/exclude globs with the same syntax, relative to the root; None when empty."""
    return GitIgnoreSpec.from_lines(patterns) if patterns else None
