"""Folders and git repositories: every text file a person would call part of the project.

Which files:
  - Inside a git work tree (and `use_git`), unless that repository ignores the folder
    itself, the files git would track: tracked plus
    untracked-but-not-ignored (`git ls-files --cached --others --exclude-standard`), minus
    those deleted from the work tree. Outside git (or without a `git` program), the same
    .gitignore rules applied by pathspec, nested files and anchored patterns included.
  - Then `.docqaignore` files (gitignore syntax, in any folder), the `exclude` globs, and,
    if any are given, the `include` globs (gitignore syntax, relative to the folder).
    Files left out by these rules are not part of the source and produce no record.
  - Folders named in `skip_dirs` (vendored, generated, caches; see
    `options.DEFAULT_SKIP_DIRS`) and "*.egg-info" are not read; each gives one Skipped
    record. Version-control folders (.git, .hg, ...) are left out silently.
  - PDFs (by extension) go to the PDF connector, page by page; other files are read as text
    (`textfile`: binary files, files over `max_bytes` and empty files are Skipped).

Symlinks: a link to a file inside the folder is read under the link's name. A link to a
folder inside the folder is skipped (its files come under their real path, and loops are
impossible). A link leaving the folder is skipped unless `follow_outside=True`; followed
folders are walked with their own ignore files, and a folder already on the current path
(a loop) is skipped. Broken links and link loops are skipped.

Order: sorted by the relative path's bytes (POSIX separators, UTF-8), not by directory
walk, so that git and non-git listings agree and a change to one file moves nothing else;
a skipped folder sits where its path sorts. The ingest pipeline relies on this order to
rewind to the first changed file.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

from connectors.document import Document, Skipped
from connectors.ignore import IgnoreRules, globs
from connectors.options import VCS_DIRS, Options
from connectors.paths import existing_folder
from connectors.pdf import pdf_pages
from connectors.textfile import BINARY_EXTENSIONS, read_text

VENV_MARKER = "pyvenv.cfg"
VENV_REASON = "virtual environment (pyvenv.cfg)"

Entry = tuple[str, Skipped | None]  # (relative path, a record if decided while listing)


class RepoConnector:
    """A folder, or a git repository (or a folder inside one)."""

    name = "repo"

    def iter_documents(self, source: str, **options: object) -> Iterator[Document | Skipped]:
        opts = Options.from_kwargs(**options)
        root = existing_folder(source)
        return self._stream(root, opts)

    def size_hint(self, source: str, **options: object) -> int:
        """Bytes of the files the stream will read (PDFs whole), from the listing and stat alone;
        files the stream skips by extension or size are left out."""
        opts = Options.from_kwargs(**options)
        root = existing_folder(source)
        total = 0
        for rel, skipped in list_entries(root, opts):
            if skipped is not None or os.path.splitext(rel)[1].lower() in BINARY_EXTENSIONS:
                continue
            try:
                size = os.stat(root / rel).st_size
            except OSError:
                continue
            if size <= opts.max_bytes or rel.lower().endswith(".pdf"):
                total += size
        return total

    def _stream(self, root: Path, opts: Options) -> Iterator[Document | Skipped]:
        for rel, skipped in list_entries(root, opts):
            if skipped is not None:
                yield skipped
            elif rel.lower().endswith(".pdf"):
                yield from pdf_pages(root / rel, rel, str(root / rel), opts, self.name)
            else:
                yield read_text(root / rel, rel, str(root / rel), opts, self.name)


def list_entries(root: Path, opts: Options) -> list[Entry]:
    """The folder's files and skipped folders, in the documented order."""
    lister = _Lister(root, opts)
    tracked = git_files(root) if opts.use_git else None
    entries = lister.walk() if tracked is None else lister.from_git(tracked)
    return sorted(entries, key=lambda entry: os.fsencode(entry[0]))


def git_files(root: Path) -> list[str] | None:
    """Paths git would track under `root`, relative to it; None to walk the folder instead.

    None outside a work tree, and also when the enclosing repository ignores the folder
    itself (a Python under ~/.pyenv, a dependency checkout): git would list nothing, but
    the user named this folder, so it is read by its own ignore files.
    """
    cmd = ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard", "-z"]
    try:
        done = subprocess.run(cmd, capture_output=True, check=False)
    except FileNotFoundError:  # no git program: fall back to pathspec's reading of .gitignore
        return None
    if done.returncode != 0:  # not a repository, or git refuses it (e.g. safe.directory)
        return None
    ignored = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", "."],
                             capture_output=True, check=False)
    if ignored.returncode == 0:
        return None
    # A conflicted file is listed once per stage; a nested repository as "name/".
    return sorted({os.fsdecode(p).rstrip("/") for p in done.stdout.split(b"\0") if p})


class _Lister:
    def __init__(self, root: Path, opts: Options):
        self.root, self.opts = root, opts
        self.real_root = os.path.realpath(root)
        self.include, self.exclude = globs(opts.include), globs(opts.exclude)
        # Walking applies .gitignore itself; git's list has applied it already (and may hold
        # force-added files that .gitignore matches), so only .docqaignore is left for it.
        self.walk_rules = IgnoreRules(root, (".gitignore", ".docqaignore"))
        self.git_rules = IgnoreRules(root, (".docqaignore",))

    def _uri(self, rel: str) -> str:
        return str(self.root / rel)

    def _wanted(self, rel: str) -> bool:
        if self.exclude is not None and self.exclude.match_file(rel):
            return False
        return self.include is None or self.include.match_file(rel)

    def _skip_dir(self, name: str) -> bool:
        return name in self.opts.skip_dirs or name.endswith(".egg-info")

    # --- outside git: walk the tree ------------------------------------------------------

    def walk(self) -> Iterator[Entry]:
        return self._walk_folder(self.root, "", frozenset({self.real_root}))

    def _walk_folder(self, folder: Path, prefix: str, chain: frozenset[str]) -> Iterator[Entry]:
        try:
            with os.scandir(folder) as it:
                names = [entry.name for entry in it]
        except OSError as e:
            yield prefix, Skipped(str(folder), "cannot list folder", "failed", e.strerror)
            return
        for name in names:
            rel = f"{prefix}/{name}" if prefix else name
            path = folder / name
            if path.is_symlink():
                if not self.walk_rules.ignored(rel, is_dir=False):
                    yield from self._symlink(path, rel, chain)
            elif path.is_dir():
                yield from self._walk_subfolder(path, rel, chain)
            elif not self.walk_rules.ignored(rel, is_dir=False) and self._wanted(rel):
                yield rel, None

    def _walk_subfolder(self, path: Path, rel: str, chain: frozenset[str]) -> Iterator[Entry]:
        if path.name in VCS_DIRS or self.walk_rules.ignored(rel, is_dir=True):
            return
        if self.exclude is not None and self.exclude.match_file(rel + "/"):
            return
        if self._skip_dir(path.name):
            yield rel, Skipped(self._uri(rel), f"vendored or generated folder ({path.name})")
            return
        if (path / VENV_MARKER).is_file():
            yield rel, Skipped(self._uri(rel), VENV_REASON)
            return
        real = os.path.realpath(path)
        if real in chain:
            yield rel, Skipped(self._uri(rel), "symlink loop")
            return
        yield from self._walk_folder(path, rel, chain | {real})

    # --- inside git: filter git's list -----------------------------------------------------

    def from_git(self, tracked: list[str]) -> Iterator[Entry]:
        venvs = {rel[: -len(VENV_MARKER)] for rel in tracked if rel.endswith("/" + VENV_MARKER)}
        reported: set[str] = set()
        for rel in tracked:
            parts = rel.split("/")
            folder = next((i for i in range(len(parts) - 1)
                           if self._skip_dir(parts[i]) or "/".join(parts[: i + 1]) + "/" in venvs),
                          None)
            if folder is not None:
                folder_rel = "/".join(parts[: folder + 1])
                if folder_rel not in reported and not self._hidden_folder(folder_rel):
                    reported.add(folder_rel)
                    reason = (VENV_REASON if folder_rel + "/" in venvs
                              else f"vendored or generated folder ({parts[folder]})")
                    yield folder_rel, Skipped(self._uri(folder_rel), reason)
                continue
            if self.git_rules.ignored_with_parents(rel, is_dir=False) or not self._wanted(rel):
                continue
            yield from self._git_entry(rel)

    def _hidden_folder(self, rel: str) -> bool:
        if self.git_rules.ignored_with_parents(rel, is_dir=True):
            return True
        return self.exclude is not None and self.exclude.match_file(rel + "/")

    def _git_entry(self, rel: str) -> Iterator[Entry]:
        path = self.root / rel
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:  # deleted in the work tree, not yet in the index
            return
        if stat.S_ISLNK(mode):
            yield from self._symlink(path, rel, frozenset({self.real_root}))
        elif stat.S_ISDIR(mode):
            yield rel, Skipped(self._uri(rel), "git submodule or nested repository")
        else:
            yield rel, None

    # --- symlinks, either way ----------------------------------------------------------------

    def _symlink(self, path: Path, rel: str, chain: frozenset[str]) -> Iterator[Entry]:
        uri = self._uri(rel)
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError as e:
            reason = "symlink loop" if e.errno == errno.ELOOP else "broken symlink"
            yield rel, Skipped(uri, reason)
            return
        real = os.path.realpath(path)
        inside = os.path.commonpath([real, self.real_root]) == self.real_root
        if not inside and not self.opts.follow_outside:
            yield rel, Skipped(uri, "symlink to a path outside the folder")
        elif is_dir and inside:
            yield rel, Skipped(uri, "symlink to a folder inside the folder")
        elif is_dir:
            yield from self._walk_subfolder(path, rel, chain)
        elif self._wanted(rel):
            yield rel, None
