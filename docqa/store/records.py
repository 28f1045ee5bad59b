"""What the store returns and takes: small frozen records, never raw rows.

`asdict()` on any of them gives the JSON the CLI prints with `--json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    model_name: str
    model_fingerprint: str
    created_at: str  # ISO 8601, UTC
    updated_at: str
    sources: int  # ingested sources
    skipped: int
    failed: int
    bytes: int  # size of the ingested sources
    tokens: int  # tokens in the current snapshot
    segments: int  # segments in the current snapshot
    current_snapshot_id: int | None
    snapshots: int  # snapshots kept, the current one included
    snapshot_bytes: int  # their memory, as stored
    roots: list[str] | None  # the paths it was ingested from (resolved); None: not known (older store)
    incomplete: bool  # its last ingest did not finish: answers come from a checkpoint, or an earlier state


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    corpus: str
    parent_id: int | None
    kind: str  # "checkpoint" (taken during an ingest) or "final" (end of an ingest)
    created_at: str
    tokens: int
    segments: int
    position: int  # the memory covers stream items [0, position); the next item to stream
    covers_from: int  # items streamed since the parent: [covers_from, position)
    n_layers: int
    nbytes: int  # layer blobs plus pending blob
    is_current: bool
    superseded: bool = False  # a re-ingest is replacing its stream: answer from it, never resume from it


@dataclass(frozen=True)
class NewSource:
    """A source to record: one item of the ingest stream, ingested or left out (with why)."""

    position: int
    uri: str
    status: str = "ingested"  # "ingested", "skipped" or "failed"
    connector: str | None = None
    doc_id: str | None = None
    content_hash: str | None = None
    size: int | None = None
    tokens: int = 0
    reason: str | None = None  # why it was skipped or failed (short, stable between runs)
    error: str | None = None  # a failure's underlying error message

    @classmethod
    def from_item(cls, position: int, item: Any, tokens: int = 0) -> NewSource:
        """From a connector item: a Document (id, uri, hash, metadata, text) or a Skipped
        (uri, reason, kind 'skipped'/'failed', error). Read by attribute so the store needs nothing
        of the connectors package."""
        metadata = getattr(item, "metadata", None) or {}
        connector = getattr(item, "connector", None) or metadata.get("connector")
        if hasattr(item, "reason") and not hasattr(item, "text"):
            return cls(position=position, uri=item.uri, status=item.kind, connector=connector,
                       reason=item.reason, error=getattr(item, "error", None), size=metadata.get("size"))
        size = metadata.get("size")
        if size is None:
            size = len(item.text.encode("utf-8", "surrogatepass"))
        return cls(position=position, uri=item.uri, status="ingested", connector=connector,
                   doc_id=item.id, content_hash=item.hash, size=size, tokens=tokens)


@dataclass(frozen=True)
class SourceRecord:
    id: int
    corpus: str
    position: int
    uri: str
    status: str
    connector: str | None
    doc_id: str | None
    content_hash: str | None
    size: int | None
    tokens: int
    reason: str | None
    error: str | None
    snapshot_id: int | None  # the snapshot that first covered it; None once that one is pruned
    created_at: str


@dataclass(frozen=True)
class Turn:
    id: int
    role: str  # "system", "user" or "assistant"
    content: str
    created_at: str


@dataclass(frozen=True)
class Conversation:
    id: int
    corpus: str
    snapshot_id: int | None
    created_at: str
    turns: list[Turn] = field(default_factory=list)
