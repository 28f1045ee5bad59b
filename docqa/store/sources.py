"""The sources of a corpus: one row per stream item, ingested or left out, and why."""

from __future__ import annotations

import sqlite3

from docqa.errors import InputError, StoreError
from docqa.store.base import StoreBase, now
from docqa.store.records import NewSource, SourceRecord

STATUSES = ("ingested", "skipped", "failed")


class SourcesMixin(StoreBase):

    def _insert_sources(self, corpus: str, cid: int, records: list[NewSource], snapshot_id: int | None) -> None:
        created = now()
        for r in records:
            if r.status not in STATUSES:
                raise InputError(f"source status must be one of {', '.join(STATUSES)}, got {r.status!r}")
            try:
                self.db.execute(
                    "INSERT INTO sources (corpus_id, position, connector, uri, doc_id, content_hash, size, "
                    "tokens, status, reason, error, snapshot_id, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [cid, r.position, r.connector, r.uri, r.doc_id, r.content_hash, r.size, r.tokens,
                     r.status, r.reason, r.error, snapshot_id, created])
            except sqlite3.IntegrityError as e:
                raise StoreError(f"corpus {corpus!r} already has a source at position {r.position} "
                                 f"({e}): delete_sources_from({r.position}) first") from e

    def list_sources(self, corpus: str, status: str | None = None) -> list[SourceRecord]:
        """In stream order; `status` keeps only 'ingested', 'skipped' or 'failed' ones."""
        if status is not None and status not in STATUSES:
            raise InputError(f"source status must be one of {', '.join(STATUSES)}, got {status!r}")
        with self._read():
            cid = self._corpus_id(corpus)
            rows = self._rows("SELECT * FROM sources WHERE corpus_id = ? AND (? IS NULL OR status = ?) "
                              "ORDER BY position", [cid, status, status])
        return [self._checked(SourceRecord(id=r["id"], corpus=corpus, position=r["position"], uri=r["uri"],
                             status=r["status"], connector=r["connector"], doc_id=r["doc_id"],
                             content_hash=r["content_hash"], size=r["size"], tokens=r["tokens"],
                             reason=r["reason"], error=r["error"], snapshot_id=r["snapshot_id"],
                             created_at=r["created_at"]))
                for r in rows]

    def delete_sources_from(self, corpus: str, position: int) -> int:
        """Forget stream items [position, ...) before an ingest re-streams them. Snapshots that
        cover any of them (position beyond `position`) hold the old contents: they go, except
        the current one, which stays current (answers keep working, and a crash during the
        re-ingest loses nothing) but is marked superseded, so that no ingest resumes from it;
        the next snapshot made current replaces it. Returns the number of sources deleted."""
        with self._write():
            cid = self._corpus_id(corpus)
            deleted = self.db.execute("DELETE FROM sources WHERE corpus_id = ? AND position >= ?",
                                      [cid, position]).rowcount
            current = "(SELECT current_snapshot_id FROM corpora WHERE id = :c)"
            self.db.execute(f"UPDATE snapshots SET superseded = 1 WHERE corpus_id = :c AND position > :p "
                            f"AND id IS {current}", {"c": cid, "p": position})
            self.db.execute(f"DELETE FROM snapshots WHERE corpus_id = :c AND position > :p "
                            f"AND id IS NOT {current}", {"c": cid, "p": position})
            self._refresh_totals(cid)
        return deleted

