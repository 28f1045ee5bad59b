import os

import pytest
from connector_helpers import git, summary, write_tree
from connector_pdfs import text_pdf

from connectors.errors import OptionError, SourceError
from connectors.repo import RepoConnector

TREE = {
    ".gitignore": "*.log\n/build-out/\nsecret.txt\n",
    ".docqaignore": "drafts/\n",
    "README.md": "# Project\n",
    "a-b.txt": "dash\n",
    "a/x.py": "print('x')\n",
    "app.log": "ignored everywhere\n",
    "build-out/gen.txt": "ignored: anchored at the root\n",
    "docs/build-out/keep.txt": "kept: the anchored pattern is for the root only\n",
    "docs/.gitignore": "*.tmp\n!important.tmp\n/local.md\n",
    "docs/notes.tmp": "ignored by the nested .gitignore\n",
    "docs/important.tmp": "re-included by a negation\n",
    "docs/local.md": "ignored: anchored in docs/\n",
    "docs/sub/local.md": "kept\n",
    "docs/sub/debug.log": "ignored by the root pattern\n",
    "secret.txt": "ignored\n",
    "drafts/d.md": "ignored by .docqaignore\n",
    "node_modules/pkg/index.js": "vendored\n",
    "pkg/__pycache__/m.cpython-311.pyc": b"\x00\x01",
    "env/pyvenv.cfg": "home = /usr/bin\n",
    "env/lib/site.py": "installed, not ours\n",
    "venv/__init__.py": "a package named venv, not a virtual environment\n",
    "image.png": b"\x89PNG\r\n",
    "blob.dat": b"abc\x00def",
    "big.txt": "x" * 2000,
    "latin1.txt": "café\n".encode("latin-1"),
    "bom8.txt": b"\xef\xbb\xbfbom\n",
    "utf16.txt": "wide\n".encode("utf-16"),
    "crlf.txt": b"one\r\ntwo\r\n",
    "empty.txt": b"",
    "unreadable.txt": "you cannot read me\n",
    "report.pdf": text_pdf(["Page one", None]),
    "Zed.md": "capital letters sort before small ones\n",
}

def expected():
    """Every file of TREE and the links except the ignored ones, sorted by the path's bytes."""
    return [
        ("doc", ".docqaignore"),
        ("doc", ".gitignore"),
        ("doc", "README.md"),
        ("doc", "Zed.md"),
        ("doc", "a-b.txt"),  # "-" (0x2d) sorts before "/" (0x2f)
        ("doc", "a/x.py"),
        ("skipped", "big.txt", "larger than the size limit (1000 bytes)"),
        ("skipped", "blob.dat", "binary content (NUL byte)"),
        ("doc", "bom8.txt"),
        ("doc", "crlf.txt"),
        ("doc", "docs/.gitignore"),
        ("doc", "docs/build-out/keep.txt"),
        ("doc", "docs/important.tmp"),
        ("doc", "docs/sub/local.md"),
        ("skipped", "empty.txt", "empty file"),
        ("skipped", "env", "virtual environment (pyvenv.cfg)"),
        ("skipped", "image.png", "binary file (.png)"),
        ("doc", "latin1.txt"),
        ("doc", "link_to_readme.md"),
        ("skipped", "loop_a", "symlink loop"),
        ("skipped", "loop_b", "symlink loop"),
        ("skipped", "node_modules", "vendored or generated folder (node_modules)"),
        ("skipped", "outside", "symlink to a path outside the folder"),
        ("skipped", "outside_file.txt", "symlink to a path outside the folder"),
        ("skipped", "pkg/__pycache__", "vendored or generated folder (__pycache__)"),
        ("doc", "report.pdf#page=1"),
        ("skipped", "report.pdf#page=2", "no extractable text on page (scanned or image-only)"),
        ("skipped", "self", "symlink to a folder inside the folder"),
        ("failed", "unreadable.txt", "cannot read file"),
        ("doc", "utf16.txt"),
        ("doc", "venv/__init__.py"),
    ]


@pytest.fixture
def tree(tmp_path, unreadable):
    root = tmp_path / "repo"
    write_tree(root, TREE)
    write_tree(tmp_path / "outside", {"o.txt": "outside the root\n", "inner/i.txt": "i\n"})
    os.symlink("loop_b", root / "loop_a")
    os.symlink("loop_a", root / "loop_b")
    os.symlink(".", root / "self")
    os.symlink(tmp_path / "outside", root / "outside")
    os.symlink("../outside/o.txt", root / "outside_file.txt")
    os.symlink("README.md", root / "link_to_readme.md")
    unreadable.add(str(root / "unreadable.txt"))
    return root


def run(root, **options):
    return list(RepoConnector().iter_documents(str(root), max_bytes=1000, **options))


def test_plain_folder_applies_gitignore_semantics(tree):
    assert summary(run(tree), tree) == expected()


def test_git_work_tree_lists_what_git_would_track(tree):
    git(tree, "init", "-q")
    write_tree(tree, {"deleted.txt": "committed, then removed\n"})
    git(tree, "add", "README.md", "a/x.py", "deleted.txt", "docs")
    git(tree, "commit", "-q", "-m", "first")
    (tree / "deleted.txt").unlink()
    # README.md and a/x.py are tracked; everything else not ignored is untracked: both count.
    assert summary(run(tree), tree) == expected()


def test_git_keeps_force_added_files_that_gitignore_matches(tree):
    git(tree, "init", "-q")
    git(tree, "add", "-f", "app.log")
    ids = [s[1] for s in summary(run(tree), tree)]
    assert "app.log" in ids


def test_git_can_be_turned_off(tree):
    git(tree, "init", "-q")
    git(tree, "add", "-f", "app.log")
    ids = [s[1] for s in summary(run(tree, use_git=False), tree)]
    assert "app.log" not in ids


def test_folder_inside_a_git_repository(tree):
    git(tree, "init", "-q")
    assert summary(run(tree / "docs"), tree / "docs") == [
        ("doc", ".gitignore"), ("doc", "build-out/keep.txt"),
        ("doc", "important.tmp"), ("doc", "sub/local.md"),
    ]


def test_folder_ignored_by_its_enclosing_repository_is_walked(tmp_path):
    write_tree(tmp_path, {".gitignore": "/versions/\n",
                          "versions/py/.gitignore": "*.pyc\n",
                          "versions/py/os.py": "import sys\n", "versions/py/os.pyc": "x"})
    git(tmp_path, "init", "-q")
    folder = tmp_path / "versions" / "py"
    assert summary(RepoConnector().iter_documents(str(folder)), folder) == [
        ("doc", ".gitignore"), ("doc", "os.py"),
    ]


def test_document_metadata_and_text(tree):
    docs = {d.id: d for d in run(tree) if hasattr(d, "text")}
    latin = docs["latin1.txt"]
    assert latin.text == "café\n"
    assert latin.uri == str(tree / "latin1.txt")
    assert latin.metadata == {"connector": "repo", "path": "latin1.txt", "language": "text",
                              "size": 5, "encoding": "latin-1", "line_start": 1, "line_end": 1}
    assert (docs["bom8.txt"].text, docs["bom8.txt"].metadata["encoding"]) == ("bom\n", "utf-8-sig")
    assert (docs["utf16.txt"].text, docs["utf16.txt"].metadata["encoding"]) == ("wide\n", "utf-16")
    assert docs["crlf.txt"].text == "one\ntwo\n"
    assert docs["crlf.txt"].metadata["line_end"] == 2
    assert docs["a/x.py"].metadata["language"] == "python"
    assert docs["link_to_readme.md"].text == "# Project\n"
    page = docs["report.pdf#page=1"]
    assert page.metadata == {"connector": "repo", "path": "report.pdf", "language": None,
                             "size": len(TREE["report.pdf"]), "page": 1, "pages": 2}
    assert page.uri == str(tree / "report.pdf") + "#page=1"


def test_failure_records_carry_the_error(tree):
    failed = [s for s in run(tree) if getattr(s, "kind", None) == "failed"]
    assert [(s.reason, s.error) for s in failed] == [("cannot read file", "Permission denied")]


def test_follow_outside_walks_linked_folders(tree):
    got = summary(run(tree, follow_outside=True), tree)
    assert ("doc", "outside/inner/i.txt") in got
    assert ("doc", "outside/o.txt") in got
    assert ("doc", "outside_file.txt") in got


def test_follow_outside_stops_at_loops(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "elsewhere"
    write_tree(root, {"a.txt": "a\n"})
    write_tree(outside, {"b.txt": "b\n"})
    os.symlink(outside, root / "ext")
    os.symlink(outside, outside / "again")  # a folder that contains itself
    os.symlink(root, outside / "back")  # and one that leads back into the root
    assert summary(RepoConnector().iter_documents(str(root), follow_outside=True), root) == [
        ("doc", "a.txt"),
        ("skipped", "ext/again", "symlink loop"),
        ("doc", "ext/b.txt"),  # "." sorts before "a"
        ("skipped", "ext/back", "symlink to a folder inside the folder"),
    ]


def test_include_and_exclude_globs(tree):
    got = summary(run(tree, include=["*.md", "*.py"], exclude=["docs/"]), tree)
    assert [g for g in got if g[0] == "doc"] == [
        ("doc", "README.md"), ("doc", "Zed.md"), ("doc", "a/x.py"), ("doc", "link_to_readme.md"),
        ("doc", "venv/__init__.py"),
    ]


def test_skip_dirs_can_be_replaced(tmp_path):
    write_tree(tmp_path, {"vendor/lib.py": "v\n", "build/out.txt": "b\n"})
    assert summary(RepoConnector().iter_documents(str(tmp_path)), tmp_path) == [
        ("skipped", "build", "vendored or generated folder (build)"),
        ("skipped", "vendor", "vendored or generated folder (vendor)"),
    ]
    got = RepoConnector().iter_documents(str(tmp_path), skip_dirs=["build"])
    assert summary(got, tmp_path) == [
        ("skipped", "build", "vendored or generated folder (build)"), ("doc", "vendor/lib.py"),
    ]


def test_a_fifo_is_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    assert summary(RepoConnector().iter_documents(str(tmp_path)), tmp_path) == [
        ("skipped", "pipe.txt", "not a regular file"),
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_by_chmod(tmp_path):
    write_tree(tmp_path, {"locked.txt": "x\n"})
    (tmp_path / "locked.txt").chmod(0)
    assert summary(RepoConnector().iter_documents(str(tmp_path)), tmp_path) == [
        ("failed", "locked.txt", "cannot read file"),
    ]


def test_the_stream_is_lazy(tree):
    stream = RepoConnector().iter_documents(str(tree))
    assert next(stream).id == ".docqaignore"


def test_missing_or_wrong_source_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="no such file or directory"):
        RepoConnector().iter_documents(str(tmp_path / "missing"))
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(SourceError, match="f.txt: not a folder"):
        RepoConnector().iter_documents(str(tmp_path / "f.txt"))


def test_unknown_or_bad_options_fail_at_the_call(tmp_path):
    with pytest.raises(OptionError, match="unknown connector option.* colour; known: "):
        RepoConnector().iter_documents(str(tmp_path), colour="red")
    with pytest.raises(OptionError, match="include must be a list of strings, not '\\*.py'"):
        RepoConnector().iter_documents(str(tmp_path), include="*.py")
    with pytest.raises(OptionError, match="max_bytes must be a positive integer, not 0"):
        RepoConnector().iter_documents(str(tmp_path), max_bytes=0)


def test_without_a_git_program_the_folder_is_walked(tree, monkeypatch):
    git(tree, "init", "-q")
    git(tree, "add", "-f", "app.log")
    monkeypatch.setenv("PATH", "")
    assert summary(run(tree), tree) == expected()


def test_nested_repository_is_reported_not_read(tmp_path):
    write_tree(tmp_path, {"a.txt": "a\n", "inner/b.txt": "b\n"})
    git(tmp_path, "init", "-q")
    git(tmp_path / "inner", "init", "-q")
    assert summary(RepoConnector().iter_documents(str(tmp_path)), tmp_path) == [
        ("doc", "a.txt"), ("skipped", "inner", "git submodule or nested repository"),
    ]
