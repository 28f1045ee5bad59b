"""Finding damage in a store and keeping what is intact: `docqa check [NAME] [--repair]`.

What intact means here:
- the file: SQLite's integrity_check and foreign_key_check find nothing;
- a snapshot: its row reads back with the types docqa wrote, and every layer and its pending
  tail match their sha256 and decode: exactly what `ask` needs to load it;
- a corpus: its row, its sources and its conversations read back, every snapshot is intact,
  and its current pointer names its newest snapshot (or, while a re-ingest replaces its
  stream, the superseded one; see `SourcesMixin.delete_sources_from`).

A repair only ever removes what is damaged. Damaged snapshots are dropped, each noted in
`dropped_snapshots` for `docqa show`. A corpus whose current snapshot went (or whose pointer is
damaged) points at its newest intact snapshot, and the sources past it are forgotten, as an
interrupted ingest leaves them: the next `docqa ingest` resumes from there. When the file
itself fails SQLite's integrity check, indexes are rebuilt first (REINDEX deletes nothing);
if it still fails, nothing is dropped: a broken page or index can make intact rows unreadable,
and their snapshots look damaged. That, and a damaged sources or conversation row, is reported
and needs a backup (or `sqlite3 STORE .recover`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from docqa.errors import CorruptSnapshot, StoreDamaged
from docqa.store import damage
from docqa.store.base import StoreBase, now
from docqa.store.records import SnapshotInfo

T = TypeVar("T")


@dataclass(frozen=True)
class SnapshotCheck:
    id: int
    kind: str | None  # None where its row cannot be read
    position: int | None  # the stream items it covers: [0, position)
    current: bool
    intact: bool
    problem: str | None  # what is wrong with it; None when intact


@dataclass(frozen=True)
class CorpusCheck:
    name: str
    intact: bool
    current_snapshot_id: int | None
    newest_intact_id: int | None  # what a repair makes current when the current one is damaged
    snapshots: list[SnapshotCheck]  # oldest first
    problems: list[str]  # beyond its snapshots: its row, its current pointer, sources, conversations


@dataclass(frozen=True)
class StoreCheck:
    path: str
    ok: bool
    integrity: list[str]  # SQLite's integrity_check, then foreign_key_check: ["ok"] when sound
    problems: list[str]  # rows of corpora that cannot be read
    corpora: list[CorpusCheck]


@dataclass(frozen=True)
class DroppedSnapshot:
    corpus: str
    snapshot_id: int  # the id it had (SQLite may give it to a later snapshot)
    kind: str | None
    position: int | None
    created_at: str | None
    problem: str
    was_current: bool
    sources_forgotten: int  # sources past the snapshot made current in its place
    dropped_at: str


@dataclass(frozen=True)
class Repair:
    corpus: str
    dropped: list[DroppedSnapshot]
    current_before: int | None
    current_after: int | None
    resumes_from: int | None  # the stream position the next ingest starts from; None: unchanged


@dataclass(frozen=True)
class StoreRepair:
    reindexed: list[str]  # tables whose indexes were rebuilt (the file had failed its integrity check)
    not_reindexed: list[str]  # "table: why" where that failed: the index or the table is damaged
    unsound: list[str]  # what SQLite still finds wrong with the file; if anything, nothing was dropped
    corpora: list[Repair]  # the corpora that needed a repair


class CheckMixin(StoreBase):
    """`check`, `repair` and what `ask` says when the current snapshot is damaged. It uses the
    Store's own readers (get_corpus, get_snapshot, list_sources, ...), so it sees what they see."""

    # Checking

    def check(self, name: str | None = None) -> StoreCheck:
        """What is intact and what is not, for corpus `name` or every corpus."""
        integrity = self._integrity()
        problems: list[str] = []
        if name is not None:
            self._corpus_id(name)  # an unknown name is CorpusNotFound
            names = [name]
        else:
            names = self._corpus_names(problems)
        corpora = [self._check_corpus(n) for n in names]
        ok = integrity == ["ok"] and not problems and all(c.intact for c in corpora)
        return StoreCheck(str(self.path), ok, integrity, problems, corpora)

    def _integrity(self, foreign_keys: bool = True) -> list[str]:
        """SQLite's integrity_check (is every b-tree sound?), then its foreign_key_check."""
        try:
            lines = [r[0] for r in self.db.execute("PRAGMA integrity_check").fetchall()]
            if foreign_keys:
                lines += [f"{table} row {rowid} refers to a missing {parent} row"
                          for table, rowid, parent, _ in self.db.execute("PRAGMA foreign_key_check").fetchall()]
        except StoreDamaged as e:
            return [e.detail]
        return [" ".join(line.split()) for line in lines if line != "ok"] or ["ok"]

    def _corpus_names(self, problems: list[str]) -> list[str]:
        """Every corpus whose name reads back; the others, by row id, into `problems`."""
        names = []
        for (cid,) in self._attempt(problems, "the corpora", lambda: self.db.execute(
                "SELECT id FROM corpora ORDER BY id").fetchall(), []):
            row = self._attempt(problems, f"corpus row {cid}",
                                lambda: self._expect(self._row("SELECT name FROM corpora WHERE id = ?", [cid]),
                                                     f"corpus row {cid}", name=str))
            if row is not None:
                names.append(row["name"])
        return sorted(names)

    @staticmethod
    def _attempt(problems: list[str], what: str, read: Callable[[], T], default: T | None = None) -> T | None:
        """read(), or `default` with what was damaged added to `problems`."""
        try:
            return read()
        except StoreDamaged as e:
            problems.append(f"{what}: {e.detail}")
            return default

    def _check_corpus(self, name: str) -> CorpusCheck:
        problems: list[str] = []
        cid = self._corpus_id(name)
        self._attempt(problems, "its row", lambda: self.get_corpus(name))
        self._attempt(problems, "its sources", lambda: self.list_sources(name))
        self._attempt(problems, "its notes of dropped snapshots", lambda: self.dropped_snapshots(name))
        conversations = self._attempt(problems, "its conversations", lambda: self.db.execute(
            "SELECT id FROM conversations WHERE corpus_id = ? ORDER BY id", [cid]).fetchall(), [])
        for (vid,) in conversations:
            self._attempt(problems, f"conversation {vid}", lambda: self.get_conversation(vid))
        ids = [r[0] for r in self._attempt(problems, "its snapshots", lambda: self.db.execute(
            "SELECT id FROM snapshots WHERE corpus_id = ? ORDER BY id", [cid]).fetchall(), [])]
        current = self._attempt(problems, "its current pointer", lambda: self._row(
            "SELECT current_snapshot_id AS id FROM corpora WHERE id = ?", [cid])["id"])
        snapshots = []
        for sid in ids:
            info, problem = self._snapshot_problem(name, sid)
            snapshots.append(SnapshotCheck(sid, info and info.kind, info and info.position, sid == current,
                                           problem is None, problem))
        pointer = self._pointer_problem(current, snapshots)
        if pointer:
            problems.append(pointer)
        intact = [s.id for s in snapshots if s.intact]
        return CorpusCheck(name, not problems and all(s.intact for s in snapshots), current,
                           max(intact) if intact else None, snapshots, problems)

    def _snapshot_problem(self, corpus: str, snapshot_id: int) -> tuple[SnapshotInfo | None, str | None]:
        """(its record if readable, what is wrong with it or None): the checks `load_snapshot`
        makes, without the corpus's model (a damaged corpus row must not condemn its snapshots)."""
        try:  # by id, not by corpus name: the name's index is not this snapshot's to answer for
            row = self._row(self._SNAPSHOT_SQL + " WHERE p.id = ?", [snapshot_id])
            if row is None or row["corpus"] != corpus:  # an index names it, its own row disagrees
                return None, "its row does not read back as a snapshot of this corpus"
            info = self._snapshot_info(row)
        except StoreDamaged as e:
            return None, e.detail
        try:
            with self._read():
                snap = self._row("SELECT * FROM snapshots WHERE id = ?", [snapshot_id])
                layers = self._rows("SELECT snapshot_id, layer, blob, sha256 FROM snapshot_layers "
                                    "WHERE snapshot_id = ? ORDER BY layer", [snapshot_id])
            blobs, pending = self._verified(corpus, snapshot_id, snap, layers)
            from docqa.memory import Memory

            Memory.from_blobs(blobs, pending, snap["segments"])
        except StoreDamaged as e:  # CorruptSnapshot included
            return info, e.detail
        return info, None

    def _pointer_problem(self, current: int | None, snapshots: list[SnapshotCheck]) -> str | None:
        ids = [s.id for s in snapshots]
        if current is None:
            return f"no snapshot is current, though it holds {len(ids)}" if ids else None
        if current not in ids:
            return f"its current pointer names snapshot {current}, which it does not hold"
        if current != max(ids) and not self._superseded(current):
            return f"its current snapshot {current} is not its newest ({max(ids)}), nor superseded by a re-ingest"
        return None

    def _superseded(self, snapshot_id: int) -> bool:
        row = self._row("SELECT superseded FROM snapshots WHERE id = ?", [snapshot_id])
        return bool(row and row["superseded"] == 1)

    # What `ask` says

    def newest_intact_snapshot(self, corpus: str, other_than: int | None = None) -> SnapshotInfo | None:
        """The newest snapshot of `corpus` (besides `other_than`) that loads intact, or None."""
        rows = self._rows("SELECT p.id FROM snapshots p JOIN corpora c ON c.id = p.corpus_id "
                          "WHERE c.name = ? ORDER BY p.id DESC", [corpus])
        for r in rows:
            if r["id"] != other_than:
                info, problem = self._snapshot_problem(corpus, r["id"])
                if problem is None:
                    return info
        return None

    def damaged_current(self, corpus: str, snapshot_id: int, error: StoreDamaged) -> StoreDamaged:
        """The error for a current snapshot that cannot be loaded (`error`): it names the newest
        intact snapshot the question can be answered from, and how to make it current."""
        try:
            alt = self.newest_intact_snapshot(corpus, other_than=snapshot_id)
        except StoreDamaged:
            return error  # too damaged to look further: the first damage found is the message
        where = f"the current snapshot {snapshot_id} of corpus {corpus!r} is damaged ({error.detail})"
        if alt is None:
            return CorruptSnapshot(f"{where}, and none of its other snapshots is intact: "
                                   f"`docqa check {corpus} --repair` drops the damaged ones, then `docqa ingest` "
                                   "builds the corpus again", error.detail)
        return CorruptSnapshot(f"{where}: snapshot {alt.id} ({alt.kind}, covering the first {alt.position} sources) "
                               f"is intact: answer from it with `--snapshot {alt.id}`, or make it current with "
                               f"`docqa check {corpus} --repair`", error.detail)

    # Repairing

    def repair(self, name: str | None = None) -> StoreRepair:
        """Repair corpus `name`, or every corpus that needs it, each under its writer lock. When
        the file fails its integrity check, first rebuild each table's indexes; if it still
        fails, drop nothing: a damaged index or a broken page shared by many rows can make
        intact snapshots look damaged, and a repair never deletes what is intact."""
        reindexed, not_reindexed = [], []
        unsound = self._integrity(foreign_keys=False)  # a dangling pointer is the repair's to mend
        if unsound != ["ok"]:
            for table in damage.tables():
                try:
                    with self._write():
                        self.db.execute(f"REINDEX {table}")  # one of docqa's own table names
                    reindexed.append(table)
                except StoreDamaged as e:
                    not_reindexed.append(f"{table}: {e.detail}")
                except sqlite3.IntegrityError as e:  # damaged rows now collide on a unique key
                    not_reindexed.append(f"{table}: {e}")
            unsound = self._integrity(foreign_keys=False)
            if unsound != ["ok"]:
                return StoreRepair(reindexed, not_reindexed, unsound, [])
        names = [name] if name is not None else self._corpus_names([])
        repairs = [self._repair_corpus(n) for n in names]
        return StoreRepair(reindexed, not_reindexed, [], [r for r in repairs if r is not None])

    def _repair_corpus(self, name: str) -> Repair | None:
        with self.writer_lock(name):
            check = self._check_corpus(name)
            damaged = [s for s in check.snapshots if not s.intact]
            current = check.current_snapshot_id
            current_ok = any(s.id == current and s.intact for s in check.snapshots) and \
                self._pointer_problem(current, check.snapshots) is None
            if not damaged and (current_ok or current is None and not check.snapshots):
                return None
            new = current if current_ok else check.newest_intact_id
            cid = self._corpus_id(name)
            forgotten, resumes_from = 0, None
            with self._write():
                if new != current:
                    self.db.execute("UPDATE corpora SET current_snapshot_id = ? WHERE id = ?", [new, cid])
                    info = None if new is None else self.get_snapshot(name, new)
                    if info is None or not info.superseded:  # a superseded one: the re-ingest's rewind stands
                        resumes_from = 0 if info is None else info.position
                        forgotten = self.db.execute("DELETE FROM sources WHERE corpus_id = ? AND position >= ?",
                                                    [cid, resumes_from]).rowcount
                dropped_at = now()
                for s in damaged:
                    created = self._attempt([], "", lambda: self._row(
                        "SELECT created_at FROM snapshots WHERE id = ?", [s.id]))
                    created = created and created["created_at"]
                    self.db.execute(
                        "INSERT INTO dropped_snapshots (corpus_id, snapshot_id, kind, position, created_at, problem, "
                        "was_current, sources_forgotten, dropped_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [cid, s.id, s.kind, s.position, created if isinstance(created, str) else None, s.problem,
                         s.current, forgotten if s.current else 0, dropped_at])
                    self.db.execute("DELETE FROM snapshots WHERE id = ?", [s.id])
                self._refresh_totals(cid)
        return Repair(name, self.dropped_snapshots(name)[-len(damaged):] if damaged else [], current, new,
                      resumes_from)

    def dropped_snapshots(self, name: str) -> list[DroppedSnapshot]:
        """What repairs dropped from corpus `name`, oldest first."""
        with self._read():
            cid = self._corpus_id(name)
            rows = self._rows("SELECT * FROM dropped_snapshots WHERE corpus_id = ? ORDER BY id", [cid])
        return [self._checked(DroppedSnapshot(
            corpus=name, snapshot_id=r["snapshot_id"], kind=r["kind"], position=r["position"],
            created_at=r["created_at"], problem=r["problem"], was_current=bool(r["was_current"]),
            sources_forgotten=r["sources_forgotten"], dropped_at=r["dropped_at"])) for r in rows]
