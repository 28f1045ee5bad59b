"""Where the store lives: one SQLite file per user, overridable for tests and scripts."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DB_ENV = "DOCQA_DB"


def default_store_path() -> Path:
    """`$DOCQA_DB` if set, else `docqa.db` in the per-user data directory.

    Read at call time, not import time, so that a test or a script can set the variable late.
    """
    override = os.environ.get(DB_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("docqa")) / "docqa.db"
