"""Checking the path a user named, once, with a message that says what is wrong with it."""

from __future__ import annotations

import os
from pathlib import Path

from connectors.errors import SourceError


def existing(source: str) -> Path:
    """`source` as an absolute path (links are not resolved), or SourceError saying what is
    wrong with it: the one existence check, for the connectors and for docqa's ingest alike."""
    path = Path(os.path.abspath(source))  # absolute for stable URIs; links are not resolved
    if not os.path.lexists(path):
        raise SourceError(f"{source}: no such file or directory")
    if not path.exists():
        raise SourceError(f"{source}: broken symbolic link")
    return path


def existing_file(source: str) -> Path:
    """`source` as an absolute path to a readable file, or SourceError."""
    path = existing(source)
    if path.is_dir():
        raise SourceError(f"{source}: is a folder; use the repo connector for folders")
    if not path.is_file():  # a FIFO or device: opening it here could block
        return path
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise SourceError(f"{source}: cannot be read ({e.strerror or e})") from e
    return path


def existing_folder(source: str) -> Path:
    """`source` as an absolute path to a folder whose entries can be listed, or SourceError."""
    path = existing(source)
    if not path.is_dir():
        raise SourceError(f"{source}: not a folder")
    try:
        with os.scandir(path):
            pass
    except OSError as e:
        raise SourceError(f"{source}: cannot be read ({e.strerror or e})") from e
    return path
