"""A damaged or full store file becomes one of docqa's errors here, wherever SQLite notices it.

Why it is built this way:
- Every statement the store runs (its own SQL, sqlite-utils' migrations, COMMIT and ROLLBACK)
  goes through one connection, made by `connect`. Translating there leaves no query that can
  surface a raw sqlite3 error for a problem of the file, however late SQLite finds it (a
  malformed page shows only when a query reaches it, not at open).
- Only failures of the file itself are translated, by SQLite's result code: CORRUPT and NOTADB
  (damaged), FULL (the disk), IOERR, CANTOPEN, READONLY and PERM (unreadable or unwritable).
  A constraint failure or a mistake in docqa's SQL stays what it is, a bug, with its traceback.
- Text that is not UTF-8 can only come from the file: docqa writes str.
- SQLite does not check a value's type when it reads a row, and a damaged record header turns
  text into a blob or an integer into a float without SQLite noticing. Records are checked
  against their declared types (`checked`) before they leave the store, and the schema against
  the one the migrations build (`verify_schema`), so a renamed column is damage, not a bug.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import sqlite3
import types
import typing
from pathlib import Path
from typing import Any, NoReturn

from sqlite_utils import Database

from docqa.errors import StoreDamaged, StoreError, StoreFull

DAMAGED_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
UNREADABLE_CODES = {sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM}
NOT_UTF8 = "Could not decode to UTF-8"  # how sqlite3 reports a TEXT value that is not UTF-8

CHECK_FIX = "`docqa check` shows what is intact and `docqa check NAME --repair` keeps it; or restore a backup, " \
            "or pass --db to use another file"
OPEN_FIX = "it is damaged, or not a docqa store: restore a backup, or pass --db (or set DOCQA_DB) to use another file"
FULL_FIX = "free some space (or pass --db to use a store on another disk) and run the command again; " \
           "an interrupted `docqa ingest` resumes from its last checkpoint"


def human(n: int | None) -> str:
    """A byte count as people read it: 812 B, 4.6 KB, 1.2 GB."""
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            break
        size /= 1024
    return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"


def damaged(path: Path, detail: str, *, opened: bool = True) -> StoreDamaged:
    """The error for damage SQLite or docqa found in the store at `path`. Found while opening,
    `docqa check` could not open it either, so the advice leaves it out."""
    if not opened:
        return StoreDamaged(f"cannot open the store {path} ({detail}): {OPEN_FIX}", detail)
    return StoreDamaged(f"the store {path} is damaged ({detail}): {CHECK_FIX}", detail)


def full(path: Path, needs: int | None = None) -> StoreFull:
    try:
        free = f"{human(shutil.disk_usage(path.parent).free)} free"
    except OSError:
        free = "space left unknown"
    need = f"; the snapshot being saved takes {human(needs)}" if needs is not None else ""
    return StoreFull(f"the disk holding the store {path} is full ({free}{need}): {FULL_FIX}")


def translate(e: Exception, path: Path, *, opened: bool = True) -> StoreError | None:
    """docqa's error for a failure of the file at `path`, or None when `e` is not one (a bug)."""
    if isinstance(e, UnicodeDecodeError) or (isinstance(e, sqlite3.OperationalError) and str(e).startswith(NOT_UTF8)):
        return damaged(path, "text that is not UTF-8", opened=opened)
    code = getattr(e, "sqlite_errorcode", None)
    if not isinstance(e, sqlite3.DatabaseError) or code is None:
        return None
    primary = code & 0xFF  # extended codes (SQLITE_IOERR_WRITE, ...) keep the primary one in the low byte
    if primary in DAMAGED_CODES:
        return damaged(path, str(e), opened=opened)
    if primary == sqlite3.SQLITE_FULL:
        return full(path)
    if primary in UNREADABLE_CODES:
        return StoreError(f"cannot read or write the store {path} ({e}): check the disk and the file's "
                          "permissions, or pass --db to use another file")
    return None


class _Cursor(sqlite3.Cursor):
    connection: _Connection

    def execute(self, *args):
        try:
            return super().execute(*args)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
            self.connection.fail(e)

    def executemany(self, *args):
        try:
            return super().executemany(*args)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
            self.connection.fail(e)

    def fetchone(self):
        try:
            return super().fetchone()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
            self.connection.fail(e)

    def fetchmany(self, *args):
        try:
            return super().fetchmany(*args)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
            self.connection.fail(e)

    def fetchall(self):
        try:
            return super().fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
            self.connection.fail(e)

    def __next__(self):
        try:
            return super().__next__()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
            self.connection.fail(e)


class _Connection(sqlite3.Connection):
    """A connection whose every statement, fetch, commit and rollback translates file failures."""

    store_path: Path
    opened = False  # set once the store has opened: later damage can be looked at with `docqa check`

    def fail(self, e: Exception) -> NoReturn:
        error = translate(e, self.store_path, opened=self.opened)
        if error is None:
            raise e
        raise error from e

    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    def execute(self, sql, parameters=()):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, parameters):
        return self.cursor().executemany(sql, parameters)

    def executescript(self, script):
        try:
            return super().executescript(script)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
            self.fail(e)

    def commit(self):
        try:
            super().commit()
        except sqlite3.DatabaseError as e:
            self.fail(e)

    def rollback(self):
        try:
            super().rollback()
        except sqlite3.DatabaseError as e:
            self.fail(e)


def connect(path: Path) -> _Connection:
    """The store's connection (sqlite3.connect's own failures are the caller's to report)."""
    conn = sqlite3.connect(str(path), factory=_Connection)
    conn.store_path = path
    return conn


def opened(conn: sqlite3.Connection) -> None:
    """Mark the connection's store as open: damage found from now on names `docqa check`."""
    if isinstance(conn, _Connection):
        conn.opened = True


# What a row may hold

@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _conforms(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_conforms(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    return isinstance(value, typing.get_origin(hint) or hint)


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("NoneType", "None")


def checked(record, path: Path):
    """`record` (a frozen dataclass built from rows) if every field holds its declared type,
    else StoreDamaged naming the field: a damaged row must not reach a caller as a wrong type."""
    hints = _hints(type(record))
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if not _conforms(value, hints[f.name]):
            raise damaged(path, f"a {type(record).__name__}'s {f.name} holds {type(value).__name__} "
                                f"{repr(value)[:40]}, not {_name(hints[f.name])}")
    return record


def expect(path: Path, row: dict[str, Any], what: str, **kinds: type) -> dict[str, Any]:
    """`row` if each named column holds its type (bool is not an int here), else StoreDamaged."""
    for column, kind in kinds.items():
        value = row[column]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise damaged(path, f"{what}'s {column} holds {type(value).__name__} {repr(value)[:40]}, "
                                f"not {kind.__name__}")
    return row


def json_text(path: Path, value: Any, what: str) -> Any:
    """The JSON value stored as text in `value` (None stays None), else StoreDamaged naming `what`."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError) as e:  # not text, or not JSON
        raise damaged(path, f"{what} holds {repr(value)[:40]}, which is not JSON") from e


# The schema

@functools.cache
def _reference_schema() -> dict[tuple[str, str], str]:
    """(type, name) -> normalised CREATE statement of every table and index the migrations make."""
    from docqa.store.migrations import migrations

    db = Database(memory=True, execute_plugins=False)
    migrations.apply(db)
    return {(t, n): _normalised(sql) for t, n, sql in db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        if "_sqlite_migrations" not in n}


def tables() -> list[str]:
    """The tables docqa's migrations make, in name order."""
    return sorted(name for kind, name in _reference_schema() if kind == "table")


def _normalised(sql: str) -> str:
    return " ".join(sql.split())


def verify_migrations(db: Database, path: Path) -> None:
    """StoreDamaged when the record of applied migrations cannot be what docqa wrote: they are
    applied in order, so the ones this docqa knows form a prefix of its list, and others (a newer
    docqa's) follow only all of them. A damaged name would otherwise make a shipped step run again."""
    from docqa.store.migrations import migrations

    ours = [m.name for m in migrations._migrations]
    applied = [m.name for m in migrations.applied(db)]
    known = [name for name in ours if name in applied]
    unknown = [name for name in applied if name not in ours]
    if known != ours[:len(known)] or (unknown and known != ours) or \
            not all(isinstance(name, str) for name in applied):
        raise damaged(path, "its record of applied migrations is damaged", opened=False)


def verify_schema(db: Database, path: Path) -> None:
    """StoreDamaged when a table or index docqa made is missing or its definition has changed
    (a flipped byte in a column name would otherwise surface as "no such column", a bug).
    A store that a newer docqa has migrated further is not checked: its schema is not ours to know."""
    from docqa.store.migrations import migrations

    known = {m.name for m in migrations._migrations}
    if any(m.name not in known for m in migrations.applied(db)):
        return
    stored = {(t, n): sql for t, n, sql in db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()}
    for (kind, name), sql in _reference_schema().items():
        if (kind, name) not in stored:
            raise damaged(path, f"its {kind} {name} is missing from the schema", opened=False)
        if not isinstance(stored[kind, name], str) or _normalised(stored[kind, name]) != sql:
            raise damaged(path, f"the definition of its {kind} {name} has changed", opened=False)
