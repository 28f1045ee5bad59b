"""Helpers for the connector tests: every input is built by the tests, in temporary folders.

A module with its own name rather than conftest.py, which other test folders also have.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from connectors.document import Document, Skipped


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    """Files under `root`; str contents are written as UTF-8."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=test@example.com", "-c", "user.name=Test",
                    "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
                   cwd=root, check=True, capture_output=True)


def summary(items, root: Path | None = None) -> list[tuple[str, ...]]:
    """("doc", id) for documents, (kind, uri, reason) for skips, uris relative to root."""
    out = []
    for item in items:
        if isinstance(item, Document):
            out.append(("doc", item.id))
        else:
            assert isinstance(item, Skipped)
            uri = item.uri
            if root is not None and uri.startswith(str(root) + os.sep):
                uri = uri[len(str(root)) + 1:]
            out.append((item.kind, uri, item.reason))
    return out
