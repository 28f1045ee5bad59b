"""Fixtures for the connector tests (helpers live in connector_helpers.py)."""

from __future__ import annotations

import builtins
import os

import pytest


@pytest.fixture
def unreadable(monkeypatch):
    """Make `open` fail with EACCES for the paths added to the returned set.

    The tests run as root, for whom chmod 000 changes nothing, so permission failures are
    simulated at the `open` call the connectors make (test_unreadable_by_chmod covers the
    real thing when not root).
    """
    denied: set[str] = set()
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) in denied:
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    return denied
