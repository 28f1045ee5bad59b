"""docqa's exceptions. Library code raises these; the CLI turns them into one-line messages.

Every message should say what went wrong and what to do about it.
"""


class DocqaError(Exception):
    """Base class for every error docqa raises on purpose."""


class ConfigError(DocqaError):
    """A model configuration or option is invalid."""


class ModelLoadError(DocqaError):
    """A model directory is missing, incomplete or unreadable."""


class InputError(DocqaError):
    """User input cannot be used (empty input, prompt too long, bad path)."""


class StoreError(DocqaError):
    """The corpus store cannot be opened or written."""


class CorpusNotFound(StoreError):
    """No corpus of that name exists in the store."""


class InvalidCorpusName(StoreError):
    """A corpus name breaks the naming rules."""


class ModelMismatch(StoreError):
    """A snapshot was built by a different model than the one loading it."""


class StoreDamaged(StoreError):
    """The store file is damaged: SQLite found it malformed, or a value in it is not what docqa
    wrote (undecodable text, a number where text belongs). `detail` names the damage alone,
    without the advice the message adds."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.detail = detail or message


class CorruptSnapshot(StoreDamaged):
    """A stored snapshot failed its checksum or cannot be decoded."""


class StoreFull(StoreError):
    """The disk holding the store is full (SQLITE_FULL): the write was rolled back."""


class CorpusExists(StoreError):
    """A corpus of that name already exists."""


class CorpusLocked(StoreError):
    """Another process is writing the corpus (an ingest, or its removal)."""


class SnapshotNotFound(StoreError):
    """A corpus has no snapshot of that id, or no snapshot at all yet."""


class ConversationNotFound(StoreError):
    """No conversation of that id exists in the store."""


class AttributionError(DocqaError):
    """An answer's sources cannot be found: the sources changed since they were ingested, cannot
    be read again (standard input), or the snapshot's stream is no longer recorded."""
