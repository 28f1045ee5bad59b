"""The corpus store: one SQLite file holding corpora, their memory snapshots and sources.

Why it is built this way:
- One row per layer (safetensors bytes, with a sha256) keeps every BLOB far below SQLite's
  limit and lets a load name the exact layer that rotted.
- A snapshot save is one transaction (see `base`): a crash mid-save leaves the previous one
  current and intact.
- A snapshot is only ever loaded by the model that built it (a fingerprint of config,
  tokenizer and weights), and never without its checksums.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docqa.errors import CorpusExists, CorpusNotFound, CorruptSnapshot, InputError, ModelMismatch, SnapshotNotFound
from docqa.models import FORMER_DEFAULTS
from docqa.store import damage, retention
from docqa.store.base import StoreBase, now, sha256
from docqa.store.check import CheckMixin
from docqa.store.conversations import ConversationsMixin
from docqa.store.lock import LockHolder, remove_lock_file, writer_lock
from docqa.store.names import validate_corpus_name
from docqa.store.records import CorpusInfo, NewSource, SnapshotInfo
from docqa.store.sources import SourcesMixin
from docqa.store.stream import StreamMixin

if TYPE_CHECKING:  # docqa.memory imports torch: `docqa corpora`, `show` and `rm` start without it
    from docqa.memory import Memory

# Earlier snapshots an ingest keeps besides the current one, spread over the stream (see
# `retention`). Retention is chosen per ingest (`docqa ingest --keep-checkpoints`); the per-corpus
# column m003 added (corpora.keep_checkpoints) was never written by any command, so the store no
# longer reads or writes it. The column stays: shipped migrations are never edited.
# 1,000 of the default model's snapshots (98.9 KB each) are about 99 MB, whatever the corpus size;
# the README ("Sources") gives what this costs and buys for 1,000 and 100,000 documents.
DEFAULT_KEEP_CHECKPOINTS = 1000
KINDS = ("checkpoint", "final")


def _short(fingerprint: str) -> str:
    return fingerprint[:16]


def _which_model(fingerprint: str) -> str:
    """What answers a corpus written by the model `fingerprint`: where an earlier default lives."""
    path = FORMER_DEFAULTS.get(fingerprint)
    if path is None:
        return "use the model it was built with"
    return f"that is a former docqa default, {path} in docqa's repository: answer with it (--model {path})"


class Store(CheckMixin, SourcesMixin, StreamMixin, ConversationsMixin, StoreBase):
    """A docqa store: corpora and their snapshots here; sources, conversations, and checking for
    damage (`check`, `repair`) in the mixins.

    Open it with `Store(path)` (default: `default_store_path()`), close it, or use it as a
    context manager.
    """

    def __enter__(self) -> Store:
        return self

    # Corpora

    _CORPUS_SQL = """
        SELECT c.*,
            (SELECT count(*) FROM sources s WHERE s.corpus_id = c.id AND s.status = 'skipped') AS skipped,
            (SELECT count(*) FROM sources s WHERE s.corpus_id = c.id AND s.status = 'failed') AS failed,
            (SELECT count(*) FROM snapshots p WHERE p.corpus_id = c.id) AS snapshots,
            (SELECT coalesce(sum(p.nbytes), 0) FROM snapshots p WHERE p.corpus_id = c.id) AS snapshot_bytes,
            -- an ingest that finishes leaves a final, not superseded, snapshot current: anything
            -- else means one stopped before its end (or is running now)
            NOT EXISTS (SELECT 1 FROM snapshots p WHERE p.id = c.current_snapshot_id
                        AND p.kind = 'final' AND NOT p.superseded) AS incomplete
        FROM corpora c"""

    def _corpus_info(self, r: dict[str, Any]) -> CorpusInfo:
        damage.json_text(self.path, r["roots"], f"corpus {r['name']!r:.70}'s roots")  # parsed below
        return self._checked(self._corpus_record(r))

    @staticmethod
    def _corpus_record(r: dict[str, Any]) -> CorpusInfo:
        return CorpusInfo(
            name=r["name"], model_name=r["model_name"], model_fingerprint=r["model_fingerprint"],
            created_at=r["created_at"], updated_at=r["updated_at"], sources=r["sources"],
            skipped=r["skipped"], failed=r["failed"], bytes=r["bytes"], tokens=r["tokens"],
            segments=r["segments"], current_snapshot_id=r["current_snapshot_id"],
            snapshots=r["snapshots"], snapshot_bytes=r["snapshot_bytes"],
            roots=None if r["roots"] is None else json.loads(r["roots"]), incomplete=bool(r["incomplete"]),
        )

    def create_corpus(self, name: str, model_fingerprint: str, model_name: str) -> CorpusInfo:
        validate_corpus_name(name)
        created = now()
        with self._write():
            if self._row("SELECT id FROM corpora WHERE name = ?", [name]) is not None:
                raise CorpusExists(f"corpus {name!r} already exists: pick another name, "
                                   f"or remove it with `docqa rm {name}`")
            self.db.execute(
                "INSERT INTO corpora (name, model_fingerprint, model_name, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)", [name, model_fingerprint, model_name, created, created])
        return self.get_corpus(name)

    def get_or_create_corpus(self, name: str, model_fingerprint: str, model_name: str) -> CorpusInfo:
        """The corpus, created if new. An existing corpus built by another model is refused:
        its memory means nothing to this one."""
        try:
            info = self.get_corpus(name)
        except CorpusNotFound:
            return self.create_corpus(name, model_fingerprint, model_name)
        self._check_model(info, model_fingerprint, model_name)
        return info

    def get_corpus(self, name: str) -> CorpusInfo:
        row = self._row(self._CORPUS_SQL + " WHERE c.name = ?", [name])
        if row is None:
            self._corpus_id(name)  # raises CorpusNotFound with the message
        return self._corpus_info(row)

    def list_corpora(self) -> list[CorpusInfo]:
        return [self._corpus_info(r) for r in self._rows(self._CORPUS_SQL + " ORDER BY c.name")]

    def delete_corpus(self, name: str) -> None:
        """Remove the corpus with its snapshots, sources and conversations (cascades).
        Refused (CorpusLocked) while an ingest writes it."""
        self._corpus_id(name)  # an unknown name is CorpusNotFound, before any lock file is made
        with writer_lock(self.path, name, fix="remove it once that has ended") as lock_file:
            with self._write():
                cid = self._corpus_id(name)
                self.db.execute("UPDATE corpora SET current_snapshot_id = NULL WHERE id = ?", [cid])
                self.db.execute("DELETE FROM corpora WHERE id = ?", [cid])
            remove_lock_file(lock_file)

    def set_roots(self, name: str, roots: list[str]) -> None:
        """Record the paths corpus `name` is ingested from (see CorpusInfo.roots)."""
        with self._write():
            cid = self._corpus_id(name)
            self.db.execute("UPDATE corpora SET roots = ? WHERE id = ?", [json.dumps(roots), cid])

    def writer_lock(self, name: str, *, wait: bool = False,
                    on_wait: Callable[[LockHolder], None] | None = None) -> AbstractContextManager[Path]:
        """Hold corpus `name`'s writer lock for a `with` block: one ingest (or removal) writes a
        corpus at a time. Held by another process or thread: CorpusLocked naming the holder,
        or with `wait`, `on_wait(holder)` once and the lock when the holder lets it go."""
        validate_corpus_name(name)
        return writer_lock(self.path, name, wait=wait, on_wait=on_wait)

    @staticmethod
    def _check_model(info: CorpusInfo, model_fingerprint: str, model_name: str | None) -> None:
        if info.model_fingerprint != model_fingerprint:
            raise ModelMismatch(
                f"corpus {info.name!r} was built with model {info.model_name} "
                f"(fingerprint {_short(info.model_fingerprint)}), not with "
                f"{model_name or 'this model'} (fingerprint {_short(model_fingerprint)}): "
                f"{_which_model(info.model_fingerprint)}, or ingest into a new corpus")

    # Snapshots

    def _snapshot_info(self, r: dict[str, Any]) -> SnapshotInfo:
        return self._checked(self._snapshot_record(r))

    @staticmethod
    def _snapshot_record(r: dict[str, Any]) -> SnapshotInfo:
        return SnapshotInfo(
            id=r["id"], corpus=r["corpus"], parent_id=r["parent_id"], kind=r["kind"],
            created_at=r["created_at"], tokens=r["tokens"], segments=r["segments"],
            position=r["position"], covers_from=r["covers_from"],
            n_layers=r["n_layers"], nbytes=r["nbytes"], is_current=bool(r["is_current"]),
            superseded=bool(r["superseded"]),
        )

    _SNAPSHOT_SQL = """
        SELECT p.id, c.name AS corpus, p.parent_id, p.kind, p.created_at, p.tokens, p.segments,
            p.position, p.covers_from, p.n_layers, p.nbytes, p.superseded,
            (c.current_snapshot_id IS p.id) AS is_current
        FROM snapshots p JOIN corpora c ON c.id = p.corpus_id"""

    def save_snapshot(self, corpus: str, memory: Memory, *, position: int,
                      sources: Iterable[NewSource | tuple[int, Any, int]] = (),
                      parent: int | None = None, kind: str = "checkpoint",
                      make_current: bool = True) -> int:
        """Store `memory` as a new snapshot of `corpus`, atomically, and return its id.

        `position` is the next stream item to ingest (the memory covers [0, position)).
        `sources` are recorded in the same transaction, pointing at the new snapshot: either
        NewSource records or the ingest pipeline's (position, connector item, tokens) tuples.
        The snapshot's tokens are the parent's plus those of `sources`; its segments, the memory's.
        (The `cursor` column of m001 is left NULL: nothing ever needed it.)
        """
        if kind not in KINDS:
            raise InputError(f"snapshot kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if position < 0:
            raise InputError(f"snapshot position must be 0 or more, got {position}")
        records = [s if isinstance(s, NewSource) else NewSource.from_item(*s) for s in sources]
        layer_blobs = memory.layer_blobs()  # serialised before the transaction, to keep it short
        pending = memory.pending_blob()
        nbytes = sum(len(b) for b in layer_blobs) + len(pending)
        with self._write(needs=nbytes):
            cid = self._corpus_id(corpus)
            covers_from, parent_tokens = self._parent_position(corpus, cid, parent, position)
            sid = self.db.execute(
                "INSERT INTO snapshots (corpus_id, parent_id, kind, created_at, tokens, segments, "
                "position, covers_from, cursor, n_layers, nbytes, pending, pending_sha256) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [cid, parent, kind, now(), parent_tokens + sum(r.tokens for r in records),
                 memory.segments, position, covers_from, None, len(layer_blobs), nbytes,
                 pending, sha256(pending)]).lastrowid
            for i, blob in enumerate(layer_blobs):
                self._insert_layer(sid, i, blob)
            self._insert_sources(corpus, cid, records, sid)
            if make_current:
                self.db.execute("UPDATE corpora SET current_snapshot_id = ? WHERE id = ?", [sid, cid])
                # the snapshot a re-ingest was replacing has been replaced
                self.db.execute("DELETE FROM snapshots WHERE corpus_id = ? AND superseded = 1", [cid])
            self._refresh_totals(cid)
        return sid

    def _parent_position(self, corpus: str, cid: int, parent: int | None, position: int) -> tuple[int, int]:
        """(covers_from, parent tokens): where the new snapshot's own stretch of stream starts."""
        if parent is None:
            return 0, 0
        row = self._row("SELECT position, tokens FROM snapshots WHERE id = ? AND corpus_id = ?", [parent, cid])
        if row is None:
            raise SnapshotNotFound(f"corpus {corpus!r} has no snapshot {parent} to be the parent: "
                                   f"see its snapshots with `docqa show {corpus}`")
        self._expect(row, f"snapshot {parent}", position=int, tokens=int)
        if row["position"] > position:
            raise InputError(f"snapshot position {position} is before its parent {parent}'s ({row['position']})")
        return row["position"], row["tokens"]

    def _insert_layer(self, snapshot_id: int, layer: int, blob: bytes) -> None:
        """One layer's row. A method of its own so the crash tests can kill the process here."""
        self.db.execute("INSERT INTO snapshot_layers (snapshot_id, layer, blob, sha256, size) "
                        "VALUES (?, ?, ?, ?, ?)", [snapshot_id, layer, blob, sha256(blob), len(blob)])

    def get_snapshot(self, corpus: str, snapshot_id: int) -> SnapshotInfo:
        row = self._row(self._SNAPSHOT_SQL + " WHERE c.name = ? AND p.id = ?", [corpus, snapshot_id])
        if row is None:
            self._corpus_id(corpus)
            raise SnapshotNotFound(f"corpus {corpus!r} has no snapshot {snapshot_id}: "
                                   f"see its snapshots with `docqa show {corpus}`")
        return self._snapshot_info(row)

    def snapshot_checksum(self, corpus: str, snapshot_id: int) -> str:
        """A sha256 over the snapshot's stored checksums (its layers in order, its pending tokens)
        and its segment count. It names the snapshot's contents: unlike the id, which SQLite
        reuses once the newest snapshot is deleted, it never names another snapshot's memory."""
        with self._read():
            snap = self._row("SELECT p.pending_sha256, p.segments FROM snapshots p "
                             "JOIN corpora c ON c.id = p.corpus_id WHERE c.name = ? AND p.id = ?",
                             [corpus, snapshot_id])
            if snap is None:
                self.get_snapshot(corpus, snapshot_id)  # raises SnapshotNotFound
            layers = self._rows("SELECT sha256 FROM snapshot_layers WHERE snapshot_id = ? ORDER BY layer",
                                [snapshot_id])
        parts = [r["sha256"] for r in layers] + [snap["pending_sha256"], str(snap["segments"])]
        if not all(isinstance(part, str) for part in parts):
            raise self._corrupt(corpus, snapshot_id, "a stored checksum is not text")
        return sha256(" ".join(parts).encode())

    def current_snapshot(self, corpus: str) -> SnapshotInfo | None:
        """The snapshot answers come from, or None before the first ingest has saved one."""
        with self._read():
            cid = self._corpus_id(corpus)
            row = self._row(self._SNAPSHOT_SQL + " WHERE p.corpus_id = ? AND p.id = c.current_snapshot_id", [cid])
            if row is None:
                self._no_dangling_current(corpus, cid)
        return None if row is None else self._snapshot_info(row)

    def _no_dangling_current(self, corpus: str, cid: int) -> None:
        """A current pointer names a snapshot of its own corpus (foreign keys keep it so):
        one that names none is damage, not a corpus without snapshots."""
        row = self._row("SELECT current_snapshot_id FROM corpora WHERE id = ?", [cid])
        if row["current_snapshot_id"] is not None:
            raise self._corrupt(corpus, row["current_snapshot_id"], "the corpus points at it as current, "
                                "but the store holds no such snapshot of it")

    def list_snapshots(self, corpus: str) -> list[SnapshotInfo]:
        """Oldest first."""
        with self._read():
            cid = self._corpus_id(corpus)
            rows = self._rows(self._SNAPSHOT_SQL + " WHERE p.corpus_id = ? ORDER BY p.id", [cid])
        return [self._snapshot_info(r) for r in rows]

    def latest_checkpoint_at_or_before(self, corpus: str, position: int) -> SnapshotInfo | None:
        """The newest snapshot (of either kind, not superseded) covering no more than stream items
        [0, position): where an ingest can resume, or rewind to when the stream changed at `position`."""
        with self._read():
            cid = self._corpus_id(corpus)
            row = self._row(self._SNAPSHOT_SQL + " WHERE p.corpus_id = ? AND p.position <= ? AND NOT p.superseded "
                            "ORDER BY p.position DESC, p.id DESC LIMIT 1", [cid, position])
        return None if row is None else self._snapshot_info(row)

    def load_snapshot(self, corpus: str, snapshot_id: int | None = None, *, model_fingerprint: str,
                      model_name: str | None = None, device: str = "cpu") -> Memory:
        """The snapshot's memory (the current one by default), refused if `model_fingerprint` is
        not the corpus's model, and checked layer by layer against the stored sha256."""
        with self._read():
            info = self.get_corpus(corpus)
            self._check_model(info, model_fingerprint, model_name)
            if snapshot_id is None:
                snapshot_id = info.current_snapshot_id
                if snapshot_id is None:
                    raise SnapshotNotFound(f"corpus {corpus!r} has no snapshot yet: "
                                           "ingest documents into it first")
            snap = self._row("SELECT p.* FROM snapshots p JOIN corpora c ON c.id = p.corpus_id "
                             "WHERE c.name = ? AND p.id = ?", [corpus, snapshot_id])
            if snap is None:
                self.get_snapshot(corpus, snapshot_id)  # raises SnapshotNotFound
            layers = self._rows("SELECT snapshot_id, layer, blob, sha256 FROM snapshot_layers WHERE snapshot_id = ? "
                                "ORDER BY layer", [snapshot_id])
        blobs, pending = self._verified(corpus, snapshot_id, snap, layers)
        from docqa.memory import Memory

        try:
            return Memory.from_blobs(blobs, pending, snap["segments"], device=device)
        except CorruptSnapshot as e:
            raise self._corrupt(corpus, snapshot_id, str(e)) from e

    def _verified(self, corpus: str, snapshot_id: int, snap: dict[str, Any],
                  layers: list[dict[str, Any]]) -> tuple[list[bytes], bytes]:
        """The layer blobs and the pending blob, each checked against its stored sha256. A layer
        missing, out of place or of another snapshot, or a value of the wrong type, is corruption."""
        n, found = snap["n_layers"], [r["layer"] for r in layers]
        if not isinstance(n, int) or not isinstance(snap["segments"], int):
            raise self._corrupt(corpus, snapshot_id, f"its row holds n_layers {n!r:.20}, segments {snap['segments']!r:.20}")
        if found != list(range(n)) or any(r["snapshot_id"] != snapshot_id for r in layers):
            raise self._corrupt(corpus, snapshot_id, f"expected layers 0..{n - 1}, found {found}")
        parts = [(f"layer {r['layer']}", r["blob"], r["sha256"]) for r in layers]
        for what, blob, stored in parts + [("pending tokens", snap["pending"], snap["pending_sha256"])]:
            if not isinstance(blob, bytes) or not isinstance(stored, str):
                raise self._corrupt(corpus, snapshot_id, f"{what} holds {type(blob).__name__}, "
                                                         f"its checksum {type(stored).__name__}")
            actual = sha256(blob)
            if actual != stored:
                raise self._corrupt(corpus, snapshot_id, f"{what} checksum mismatch "
                                                         f"(stored {stored[:16]}, computed {actual[:16]})")
        return [r["blob"] for r in layers], snap["pending"]

    @staticmethod
    def _corrupt(corpus: str, snapshot_id: int, problem: str) -> CorruptSnapshot:
        return CorruptSnapshot(f"corpus {corpus!r} snapshot {snapshot_id} is corrupt: {problem}; answer from an "
                               f"intact one (`docqa check {corpus}` lists them) or drop the damaged ones with "
                               f"`docqa check {corpus} --repair`", problem)

    def prune_checkpoints(self, corpus: str, keep: int = DEFAULT_KEEP_CHECKPOINTS) -> list[int]:
        """Delete earlier snapshots until `keep` remain, spread evenly over the stream (see
        `retention`): attribution and re-ingest replay from the kept one before a place. The
        current snapshot is never deleted. Returns the deleted ids, in the order they went."""
        if keep < 0:
            raise InputError(f"keep must be 0 or more, got {keep}")
        with self._write():
            cid = self._corpus_id(corpus)  # an unknown name is CorpusNotFound, not an empty list
            rows = self._rows("SELECT p.id, p.tokens, (p.id IS c.current_snapshot_id) AS current FROM snapshots p "
                              "JOIN corpora c ON c.id = p.corpus_id WHERE c.id = ?", [cid])
            for r in rows:
                self._expect(r, f"snapshot {r['id']}", tokens=int)
            end = max([r["tokens"] for r in rows if r["current"]], default=0)
            doomed = retention.thin([(r["id"], r["tokens"]) for r in rows if not r["current"]], keep, end)
            for sid in doomed:
                self.db.execute("DELETE FROM snapshots WHERE id = ?", [sid])
        return doomed
