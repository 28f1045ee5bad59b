"""The store's schema, as small named steps applied in order on every open.

A migration that has shipped is never edited: a store created by an older docqa has recorded
it as applied and would never see the change. To change the schema, append a new step.
The tests build a store with only `m001_initial` applied, fill it, and open it with the
current code.

Foreign keys are declared here and enforced because the store turns `PRAGMA foreign_keys`
on for every connection (SQLite leaves it off by default).
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("docqa.store")


@migrations(name="m001_initial")
def m001_initial(db: Database) -> None:
    """Corpora, their snapshots (one row per layer of memory) and their sources."""
    db.execute("""
        CREATE TABLE corpora (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            model_fingerprint TEXT NOT NULL,
            model_name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sources INTEGER NOT NULL DEFAULT 0,   -- ingested sources
            bytes INTEGER NOT NULL DEFAULT 0,     -- their size
            tokens INTEGER NOT NULL DEFAULT 0,    -- tokens in the current snapshot
            segments INTEGER NOT NULL DEFAULT 0,  -- segments in the current snapshot
            current_snapshot_id INTEGER REFERENCES snapshots(id) ON DELETE SET NULL
        )""")
    db.execute("""
        CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            corpus_id INTEGER NOT NULL REFERENCES corpora(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES snapshots(id) ON DELETE SET NULL,
            kind TEXT NOT NULL CHECK (kind IN ('checkpoint', 'final')),
            created_at TEXT NOT NULL,
            tokens INTEGER NOT NULL,
            segments INTEGER NOT NULL,
            position INTEGER NOT NULL,      -- stream items covered: [0, position)
            covers_from INTEGER NOT NULL,   -- items new since the parent: [covers_from, position)
            cursor TEXT,                    -- JSON the ingest pipeline may keep
            n_layers INTEGER NOT NULL,
            nbytes INTEGER NOT NULL,        -- layer blobs + pending blob
            pending BLOB NOT NULL,          -- safetensors: the unfinished segment's tokens
            pending_sha256 TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX snapshots_by_corpus ON snapshots (corpus_id, position, id)")
    db.execute("""
        CREATE TABLE snapshot_layers (
            snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
            layer INTEGER NOT NULL,
            blob BLOB NOT NULL,             -- safetensors: M (B,H,Dk,Dv), z (B,H,Dk), float32
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (snapshot_id, layer)
        )""")
    db.execute("""
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            corpus_id INTEGER NOT NULL REFERENCES corpora(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            connector TEXT,
            uri TEXT NOT NULL,
            doc_id TEXT,
            content_hash TEXT,
            size INTEGER,
            tokens INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL CHECK (status IN ('ingested', 'skipped', 'failed')),
            reason TEXT,                    -- why skipped or failed: short and stable
            error TEXT,                     -- a failure's underlying error message
            snapshot_id INTEGER REFERENCES snapshots(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            UNIQUE (corpus_id, position)
        )""")


@migrations(name="m002_conversations")
def m002_conversations(db: Database) -> None:
    """Conversations for `docqa chat`: each answers from one snapshot of one corpus."""
    db.execute("""
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            corpus_id INTEGER NOT NULL REFERENCES corpora(id) ON DELETE CASCADE,
            snapshot_id INTEGER REFERENCES snapshots(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX conversations_by_corpus ON conversations (corpus_id, id)")
    db.execute("""
        CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX turns_by_conversation ON turns (conversation_id, id)")


@migrations(name="m003_corpus_retention")
def m003_corpus_retention(db: Database) -> None:
    """A per-corpus retention policy: how many earlier snapshots to keep (NULL: the default)."""
    db.execute("ALTER TABLE corpora ADD COLUMN keep_checkpoints INTEGER")


@migrations(name="m004_superseded_snapshots")
def m004_superseded_snapshots(db: Database) -> None:
    """A snapshot whose stream a re-ingest is replacing stays current (answers keep working)
    until the new one lands, but no ingest may resume from it."""
    db.execute("ALTER TABLE snapshots ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0")


@migrations(name="m006_dropped_snapshots")
def m006_dropped_snapshots(db: Database) -> None:
    """What `docqa check --repair` dropped as damaged, for `docqa show`: the snapshot's id (SQLite
    may give it to a later snapshot), what of its row could still be read, and why it went."""
    db.execute("""
        CREATE TABLE dropped_snapshots (
            id INTEGER PRIMARY KEY,
            corpus_id INTEGER NOT NULL REFERENCES corpora(id) ON DELETE CASCADE,
            snapshot_id INTEGER NOT NULL,
            kind TEXT,                      -- NULL where the damaged row could not be read
            position INTEGER,
            created_at TEXT,
            problem TEXT NOT NULL,
            was_current INTEGER NOT NULL,
            sources_forgotten INTEGER NOT NULL DEFAULT 0,  -- sources past the new current one
            dropped_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX dropped_snapshots_by_corpus ON dropped_snapshots (corpus_id, id)")


@migrations(name="m007_corpus_roots")
def m007_corpus_roots(db: Database) -> None:
    """The paths a corpus was ingested from (a JSON list), so that ingesting other paths into it
    is refused unless asked for. NULL on corpora from before: their next ingest records them."""
    db.execute("ALTER TABLE corpora ADD COLUMN roots TEXT")


@migrations(name="m008_corpus_stream_options")
def m008_corpus_stream_options(db: Database) -> None:
    """The connector and connector options a corpus was ingested with (JSON, never a password),
    so that attribution can read its sources again as ingest read them. NULL on corpora from
    before: a replay reads them with the defaults, and refuses when the stream differs."""
    db.execute("ALTER TABLE corpora ADD COLUMN stream_options TEXT")
