"""The ingest pipeline: connectors -> tokens -> model -> memory -> snapshots in the store.

The stream is the connectors' documents in their stable order, each as
`<|doc|>` + header + text. Every item of the stream (a document, or a skip with its reason)
has a position. Checkpoints are taken at document boundaries; each holds the memory (with its
pending tail) and the position of the next item.

Resume and incremental re-ingest are one mechanism: the new stream is compared item by item
with the sources recorded for the corpus; at the first difference (a change, an addition, a
removal, or simply the end of what a crashed run recorded) the pipeline rewinds to the newest
checkpoint at or before it and streams again from there. The result equals a fresh ingest of
the current contents. Until the re-ingest saves its final snapshot, the previous current
snapshot stays current (marked superseded), so answers keep working and a crash loses nothing.

Each document is fed to the model on its own, in chunks that start at the document, so a
resumed run makes exactly the same model calls as an uninterrupted one and gives a
bit-identical memory on the same machine (floating-point reduction order depends on the
chunking, the thread count and the device).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from connectors import registry
from connectors.document import Document, Skipped, header
from connectors.errors import SourceError
from docqa.errors import CorpusNotFound, InputError
from docqa.model.io import LoadedModel
from docqa.store import DEFAULT_KEEP_CHECKPOINTS, Store
from docqa.store.lock import LockHolder


@dataclass
class IngestOptions:
    checkpoint_segments: int = 512  # a checkpoint after at least this many new segments...
    checkpoint_seconds: float = 300.0  # ...or this much time, at the next document boundary
    keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS  # retention: newest kept besides the current snapshot
    connector: str | None = None  # force a connector instead of choosing by path
    connector_options: dict = field(default_factory=dict)  # include/exclude globs, password, ...
    chunk_segments: int = 16
    wait: bool = False  # another process is ingesting this corpus: wait for it instead of CorpusLocked
    replace: bool = False  # the corpus was ingested from other paths: replace its sources instead of refusing


@dataclass
class Progress:
    """Sent to `on_progress` after each stream item."""

    position: int
    total: int
    tokens: int
    elapsed: float
    uri: str


@dataclass
class IngestReport:
    corpus: str
    snapshot_id: int | None
    up_to_date: bool
    sources: int  # items in the stream
    ingested: int
    skipped: list[tuple[str, str]]  # (uri, reason)
    failed: list[tuple[str, str]]
    tokens: int  # tokens streamed in this run
    segments: int  # segments in the corpus memory
    seconds: float
    restreamed_from: int  # position the run started streaming from (0 = from scratch)
    checkpoints: int
    snapshot_bytes: int


def _existing(path: str) -> Path:
    if not Path(path).exists():
        raise InputError(f"{path}: no such file or directory")
    return Path(path)


def roots(paths: list[str]) -> list[str]:
    """`paths` as a corpus records them: resolved, so that `src` and `./src/` are one root."""
    return [p if p == "-" else str(_existing(p).resolve()) for p in paths]


def _check_roots(store: Store, corpus: str, new: list[str], replace: bool) -> None:
    """Other paths into an existing corpus would replace its sources: refused unless `replace`.
    A corpus whose roots are not known (made before they were kept) takes any."""
    try:
        old = store.get_corpus(corpus).roots
    except CorpusNotFound:
        return
    if old is None or set(old) == set(new) or replace:
        return
    raise InputError(f"corpus {corpus!r} was ingested from {_listed(old)}, not {_listed(new)}: pass --replace "
                     "to replace its sources with these, or ingest them into another corpus with --corpus NAME")


def _listed(paths: list[str], most: int = 3) -> str:
    more = f" and {len(paths) - most} more" if len(paths) > most else ""
    return ", ".join(paths[:most]) + more


def _items(paths: list[str], options: IngestOptions) -> Iterator[Document | Skipped]:
    for path in paths:
        if path != "-":
            _existing(path)
        try:
            connector = registry.get(options.connector) if options.connector else registry.for_path(path)
            yield from connector.iter_documents(path, **options.connector_options)
        except SourceError as e:
            raise InputError(str(e)) from e


def documents(paths: list[str], options: IngestOptions | None = None) -> Iterator[Document]:
    """The documents the connectors find under `paths`, in stream order (skipped items left out)."""
    return (item for item in _items(paths, options or IngestOptions()) if isinstance(item, Document))


def document_tokens(tok, doc: Document) -> list[int]:
    """What a document adds to the stream: <|doc|>, its header line, then its text."""
    return tok.encode("<|doc|>", allow_special=True) + tok.encode(header(doc)) + tok.encode(doc.text)


def _key(item: Document | Skipped) -> tuple[str, str]:
    if isinstance(item, Document):
        return item.id, item.hash
    return item.uri, f"{item.kind}:{item.reason}"


def _stored_key(rec) -> tuple[str, str]:
    if rec.status == "ingested":
        return rec.doc_id, rec.content_hash
    return rec.uri, f"{rec.status}:{rec.reason}"


class _Replayable:
    """Stdin can be read once only; keep its items so the pipeline can pass over them twice."""

    def __init__(self, paths: list[str], options: IngestOptions):
        self.paths, self.options = paths, options
        self._cached = list(_items(paths, options)) if "-" in paths else None

    def __iter__(self) -> Iterator[Document | Skipped]:
        return iter(self._cached) if self._cached is not None else _items(self.paths, self.options)


def ingest(store: Store, lm: LoadedModel, corpus: str, paths: Iterable[str],
           options: IngestOptions | None = None,
           on_progress: Callable[[Progress], None] | None = None,
           on_wait: Callable[[LockHolder], None] | None = None) -> IngestReport:
    """Stream `paths` into `corpus`, holding the corpus's writer lock for the whole run: another
    ingest of it at the same time raises CorpusLocked, or with `options.wait` is waited for
    (`on_wait` hears who holds it, once)."""
    options = options or IngestOptions()
    with store.writer_lock(corpus, wait=options.wait, on_wait=on_wait):
        return _ingest(store, lm, corpus, paths, options, on_progress)


def _ingest(store: Store, lm: LoadedModel, corpus: str, paths: Iterable[str], options: IngestOptions,
            on_progress: Callable[[Progress], None] | None) -> IngestReport:
    paths = list(paths)
    if not paths:
        raise InputError("no paths to ingest: give a folder, a file, or - for standard input")
    t0 = time.perf_counter()
    new_roots = roots(paths)
    _check_roots(store, corpus, new_roots, options.replace)
    stream = _Replayable(paths, options)

    keys, n_docs = [], 0
    for item in stream:  # pass 1: what the stream holds now
        keys.append(_key(item))
        n_docs += isinstance(item, Document)
    if n_docs == 0:
        raise InputError(f"nothing to ingest in {', '.join(paths)}: " + (
            f"all {len(keys)} sources were skipped or failed" if keys else "no documents found"))
    if store.get_or_create_corpus(corpus, lm.fingerprint, lm.name).roots != new_roots:
        store.set_roots(corpus, new_roots)
    stored = [_stored_key(r) for r in store.list_sources(corpus)]
    first_diff = next((i for i, (a, b) in enumerate(zip(keys, stored)) if a != b), min(len(keys), len(stored)))
    current = store.current_snapshot(corpus)
    if (first_diff == len(keys) == len(stored) and current is not None and current.kind == "final"
            and not current.superseded):
        return _report(store, corpus, current.id, True, keys, 0, t0, first_diff, 0)

    start = store.latest_checkpoint_at_or_before(corpus, first_diff)
    if start is None:
        memory, position, parent = lm.model.new_memory(1), 0, None
    else:
        memory = store.load_snapshot(corpus, start.id, model_fingerprint=lm.fingerprint,
                                     model_name=lm.name, device=str(lm.model.device))
        position, parent = start.position, start.id
    store.delete_sources_from(corpus, position)
    # While a re-ingest replaces the stream of the current snapshot, that snapshot stays the one
    # answers come from; checkpoints of the new stream become current only with the final one.
    current = store.current_snapshot(corpus)
    checkpoints_current = current is None or not current.superseded

    tok, device = lm.tokenizer, lm.model.device
    streamed, checkpoints, last_ckpt_seg, last_ckpt_t = 0, 0, memory.segments, time.perf_counter()
    pending_records = []
    snapshot_id = parent
    for i, item in enumerate(stream):  # pass 2: stream from the checkpoint on
        if i < position:
            continue
        if isinstance(item, Document):
            ids = document_tokens(tok, item)
            memory = lm.model.ingest(torch.tensor([ids], device=device), memory,
                                     chunk_segments=options.chunk_segments)
            streamed += len(ids)
            pending_records.append(dict(position=i, item=item, tokens=len(ids)))
        else:
            pending_records.append(dict(position=i, item=item, tokens=0))
        if on_progress:
            on_progress(Progress(i + 1, len(keys), streamed, time.perf_counter() - t0, item.uri))
        due = (memory.segments - last_ckpt_seg >= options.checkpoint_segments
               or time.perf_counter() - last_ckpt_t >= options.checkpoint_seconds)
        if due and i + 1 < len(keys):
            snapshot_id = _save(store, corpus, memory, pending_records, i + 1, snapshot_id, "checkpoint",
                                checkpoints_current)
            pending_records, checkpoints = [], checkpoints + 1
            last_ckpt_seg, last_ckpt_t = memory.segments, time.perf_counter()
    snapshot_id = _save(store, corpus, memory, pending_records, len(keys), snapshot_id, "final")
    store.prune_checkpoints(corpus, keep=options.keep_checkpoints)
    return _report(store, corpus, snapshot_id, False, keys, streamed, t0, position, checkpoints)


def _save(store: Store, corpus: str, memory, records: list[dict], position: int, parent, kind: str,
          make_current: bool = True) -> int:
    return store.save_snapshot(corpus, memory, position=position, parent=parent, kind=kind,
                               make_current=make_current,
                               sources=[(r["position"], r["item"], r["tokens"]) for r in records])


def _report(store, corpus, snapshot_id, up_to_date, keys, streamed, t0, restreamed_from, checkpoints):
    sources = store.list_sources(corpus)
    snap = store.get_snapshot(corpus, snapshot_id)
    return IngestReport(
        corpus=corpus, snapshot_id=snapshot_id, up_to_date=up_to_date, sources=len(keys),
        ingested=sum(r.status == "ingested" for r in sources),
        skipped=[(r.uri, r.reason) for r in sources if r.status == "skipped"],
        failed=[(r.uri, r.reason) for r in sources if r.status == "failed"],
        tokens=streamed, segments=snap.segments, seconds=time.perf_counter() - t0,
        restreamed_from=restreamed_from, checkpoints=checkpoints, snapshot_bytes=snap.nbytes,
    )
