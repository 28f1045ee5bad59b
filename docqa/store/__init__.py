"""The corpus store: corpora, their per-layer memory snapshots and their sources, in SQLite.

All of docqa's SQL lives in this package.
"""

from docqa.store.names import validate_corpus_name
from docqa.store.paths import DB_ENV, default_store_path
from docqa.store.records import Conversation, CorpusInfo, NewSource, SnapshotInfo, SourceRecord, Turn
from docqa.store.retention import DEFAULT_CHECKPOINT_SEGMENTS
from docqa.store.store import DEFAULT_KEEP_CHECKPOINTS, Store

__all__ = [
    "DB_ENV", "DEFAULT_CHECKPOINT_SEGMENTS", "DEFAULT_KEEP_CHECKPOINTS", "Conversation", "CorpusInfo", "NewSource",
    "SnapshotInfo", "SourceRecord", "Store", "Turn", "default_store_path", "validate_corpus_name",
]
