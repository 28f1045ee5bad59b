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
The comparison and the streaming are one pass over the connectors: every source is read, and
its text hashed, once per run (see `_Run`).

Progress goes to a callback as `Progress` events, after every item and inside long documents;
the CLI renders them.

Each document is fed to the model on its own, in chunks that start at the document, so a
resumed run makes exactly the same model calls as an uninterrupted one and gives a
bit-identical memory on the same machine (floating-point reduction order depends on the
chunking, the thread count and the device).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from connectors import registry
from connectors.document import Document, Skipped
from connectors.errors import SourceError
from connectors.paths import existing
from docqa.errors import CorpusNotFound, InputError
from docqa.model.io import LoadedModel
from docqa.prompt import document_tokens
from docqa.store import DEFAULT_CHECKPOINT_SEGMENTS, DEFAULT_KEEP_CHECKPOINTS, Store
from docqa.store.lock import LockHolder


@dataclass
class IngestOptions:
    checkpoint_segments: int = DEFAULT_CHECKPOINT_SEGMENTS  # a checkpoint after at least this many new segments...
    checkpoint_seconds: float = 300.0  # ...or this much time, at the next document boundary
    keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS  # retention: kept besides the current snapshot, spread out
    connector: str | None = None  # force a connector instead of choosing by path
    connector_options: dict = field(default_factory=dict)  # include/exclude globs, password, ...
    chunk_segments: int = 16
    wait: bool = False  # another process is ingesting this corpus: wait for it instead of CorpusLocked
    replace: bool = False  # the corpus was ingested from other paths: replace its sources instead of refusing


HOLD_BYTES = 64 * 2**20  # source text held while comparing; a rewind further back reads the sources again


@dataclass
class Progress:
    """Sent to `on_progress` after each stream item, and inside a long document after each chunk
    the model has read. `position`, `tokens` and `done_bytes` count from the start of the stream,
    whatever checkpoint the run resumed from; `streamed` and `streamed_bytes` count this run's
    own work (a rate comes from them). Bytes are the sources' (a PDF page: its share of the file)."""

    position: int  # stream items finished
    tokens: int  # tokens in the corpus memory so far
    streamed: int  # tokens the model read in this run
    done_bytes: float  # source bytes finished, into the current document
    streamed_bytes: float  # of which read by the model in this run
    total_bytes: int | None  # the connectors' estimate for the whole stream; None: unknown
    elapsed: float  # seconds since the run started
    uri: str  # the item read last
    checking: bool = False  # comparing with what the corpus holds: read, not streamed


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
    try:
        return existing(path)
    except SourceError as e:
        raise InputError(str(e)) from e


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
        try:
            connector = registry.get(options.connector) if options.connector else registry.for_path(path)
            yield from connector.iter_documents(path, **options.connector_options)
        except SourceError as e:
            raise InputError(str(e)) from e


def items(paths: list[str], options: IngestOptions | None = None) -> Iterator[Document | Skipped]:
    """The stream's items under `paths` (documents and skip records) in stream order: an item's
    index is its position, as the corpus's sources record it."""
    return _items(paths, options or IngestOptions())


def documents(paths: list[str], options: IngestOptions | None = None) -> Iterator[Document]:
    """The documents the connectors find under `paths`, in stream order (skipped items left out)."""
    return (item for item in _items(paths, options or IngestOptions()) if isinstance(item, Document))


def _size_hint(paths: list[str], options: IngestOptions) -> int | None:
    """The connectors' estimate of the bytes the stream will read, from listings alone (no file
    is read); None when one cannot tell (standard input, a connector without `size_hint`)."""
    total = 0
    for path in paths:
        try:
            connector = registry.get(options.connector) if options.connector else registry.for_path(path)
            hint = getattr(connector, "size_hint", None)
            size = None if hint is None else hint(path, **options.connector_options)
        except SourceError as e:
            raise InputError(str(e)) from e
        if size is None:
            return None
        total += size
    return total


def _item_bytes(item: Document | Skipped) -> float:
    """The source bytes an item stands for, in the units of `size_hint`: a file's size, a PDF
    page its share of the file, a skipped item nothing."""
    if not isinstance(item, Document):
        return 0.0
    size = item.metadata.get("size")
    if size is None:
        size = len(item.text.encode("utf-8", "surrogatepass"))
    pages = item.metadata.get("pages") if item.metadata.get("page") is not None else None
    return size / pages if pages else float(size)


def _key(item: Document | Skipped) -> tuple[str, str]:
    if isinstance(item, Document):
        return item.id, item.hash
    return item.uri, f"{item.kind}:{item.reason}"


def _stored_key(rec) -> tuple[str, str]:
    if rec.status == "ingested":
        return rec.doc_id, rec.content_hash
    return rec.uri, f"{rec.status}:{rec.reason}"


Entry = tuple[int, "Document | Skipped", bool]  # (position, item, whether it is the stream's last)


def _entries(items: Iterable[Document | Skipped], start: int = 0) -> Iterator[Entry]:
    """The stream's items with their positions, each knowing whether it is the last: no
    checkpoint is taken right before the final snapshot. Positions before `start` are passed over."""
    it = iter(enumerate(items))
    previous = next(it, None)
    for current in it:
        if previous[0] >= start:
            yield previous[0], previous[1], False
        previous = current
    if previous is not None and previous[0] >= start:
        yield previous[0], previous[1], True


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
    new_roots = roots(paths)
    _check_roots(store, corpus, new_roots, options.replace)
    return _Run(store, lm, corpus, paths, new_roots, options, on_progress).run()


class _Run:
    """One ingest, in one pass over the stream: each source is read (and hashed) once.

    While the stream agrees with the sources the corpus recorded, nothing is streamed; the items
    since the newest snapshot that could be resumed from are held. At the first difference the
    run rewinds to that snapshot and streams the held items, then the rest as they come. Nothing
    is written to the store until there is something to write, so a stream without a single
    document leaves the store as it was.
    """

    def __init__(self, store: Store, lm: LoadedModel, corpus: str, paths: list[str], new_roots: list[str],
                 options: IngestOptions, on_progress: Callable[[Progress], None] | None):
        self.store, self.lm, self.corpus, self.paths, self.roots = store, lm, corpus, paths, new_roots
        self.options, self.on_progress = options, on_progress
        self.t0 = time.perf_counter()
        info = None
        try:
            info = store.get_corpus(corpus)
        except CorpusNotFound:
            pass
        if info is not None:  # another model's corpus is refused before anything is read
            store.get_or_create_corpus(corpus, lm.fingerprint, lm.name)
        self.info = info
        records = [] if info is None else store.list_sources(corpus)
        self.stored = [_stored_key(r) for r in records]
        self.stored_tokens = [r.tokens for r in records]
        self.resume_points = set() if info is None else {
            s.position for s in store.list_snapshots(corpus) if not s.superseded}
        self.total_bytes = _size_hint(paths, options)
        # Progress counts from the start of the stream, whatever the run resumed from.
        self.position, self.tokens, self.done_bytes = 0, 0, 0.0
        self.streamed, self.streamed_bytes = 0, 0.0  # this run's own work
        self.bytes_at = {0: 0.0}  # done_bytes at each position a rewind may go back to
        self.n_items = self.n_docs = self.checkpoints = 0  # items and documents seen so far
        self.memory, self.snapshot_id, self.pending = None, None, []  # pending: sources for the next save
        self.claimed, self.checkpoints_current = False, True

    def _see(self, i: int, item: Document | Skipped) -> None:
        if i >= self.n_items:  # an item read again after a rewind counts once
            self.n_items = i + 1
            self.n_docs += isinstance(item, Document)

    def run(self) -> IngestReport:
        entries = _entries(_items(self.paths, self.options))
        held, diverged = self._compare(entries)
        if not diverged and self.n_docs == 0:
            self._nothing()
        current = None if self.info is None else self.store.current_snapshot(self.corpus)
        if (not diverged and self.position == len(self.stored) and current is not None
                and current.kind == "final" and not current.superseded):
            self._set_roots()
            return _report(self.store, self.corpus, current.id, True, self.position, 0, self.t0, self.position, 0)
        return self._stream(held, entries)

    def _compare(self, entries: Iterator[Entry]) -> tuple[list[Entry], bool]:
        """Consume the entries that agree with the stored sources. Returns the entries to stream
        after a rewind (those held since the newest resume point, and the first that differs)
        and whether one differed."""
        held: list[Entry] = []
        held_bytes, holding = 0.0, True
        limit = float("inf") if "-" in self.paths else HOLD_BYTES  # standard input is read once only
        for i, item, last in entries:
            self._see(i, item)
            if i in self.resume_points:
                held, held_bytes, holding = [], 0.0, True
            if i >= len(self.stored) or _key(item) != self.stored[i]:
                return held + [(i, item, last)], True
            if holding:
                held.append((i, item, last))
                held_bytes += _item_bytes(item)
                if held_bytes > limit:  # a rewind back past here reads the sources again
                    held, holding = [], False
            self.position, self.tokens = i + 1, self.tokens + self.stored_tokens[i]
            self.done_bytes += _item_bytes(item)
            if self.position in self.resume_points:
                self.bytes_at[self.position] = self.done_bytes
            self._emit(item.uri, checking=True)
        return held, False

    def _stream(self, held: list[Entry], entries: Iterator[Entry]) -> IngestReport:
        """Rewind to the newest snapshot at or before the first difference, then stream on."""
        start = None if self.info is None else self.store.latest_checkpoint_at_or_before(self.corpus, self.position)
        lm, options = self.lm, self.options
        if start is None:
            memory, self.position, parent, self.tokens = lm.model.new_memory(1), 0, None, 0
        else:
            memory = self.store.load_snapshot(self.corpus, start.id, model_fingerprint=lm.fingerprint,
                                              model_name=lm.name, device=str(lm.model.device))
            self.position, parent, self.tokens = start.position, start.id, start.tokens
        restreamed_from = self.position
        self.done_bytes = self.bytes_at.get(self.position, 0.0)
        read = held[-1][0] + 1 if held else self.n_items  # the stream is read up to here
        if self.position >= read or (held and held[0][0] <= self.position):
            todo = itertools.chain((e for e in held if e[0] >= self.position), entries)
        else:  # the items back to the checkpoint were not held: read the sources again from there
            entries.close()
            todo = _entries(_items(self.paths, options), start=self.position)
        self.snapshot_id, self.memory = parent, memory
        last_ckpt_seg, last_ckpt_t = memory.segments, time.perf_counter()
        for i, item, last in todo:
            self._see(i, item)
            if isinstance(item, Document):
                self._claim(restreamed_from)
                tokens = self._feed(item)
            else:
                tokens = 0
            self.pending.append(dict(position=i, item=item, tokens=tokens))
            self.position = i + 1
            self._emit(item.uri)
            due = (self.memory.segments - last_ckpt_seg >= options.checkpoint_segments
                   or time.perf_counter() - last_ckpt_t >= options.checkpoint_seconds)
            if due and not last and self.claimed:
                self._save("checkpoint", self.checkpoints_current)
                self.checkpoints += 1
                last_ckpt_seg, last_ckpt_t = self.memory.segments, time.perf_counter()
        if self.n_docs == 0:
            self._nothing()
        self._claim(restreamed_from)
        self._save("final", True)
        self.store.prune_checkpoints(self.corpus, keep=options.keep_checkpoints)
        return _report(self.store, self.corpus, self.snapshot_id, False, self.position, self.streamed, self.t0,
                       restreamed_from, self.checkpoints)

    def _feed(self, doc: Document) -> int:
        """Stream one document through the model, a chunk at a time from its start (the same
        model calls as one `ingest` call on the whole document), reporting progress inside it."""
        lm = self.lm
        ids = document_tokens(lm.tokenizer, doc)
        step = self.options.chunk_segments * lm.config.segment_len
        nbytes = _item_bytes(doc)
        for at in range(0, len(ids), step):
            piece = ids[at:at + step]
            self.memory = lm.model.ingest(torch.tensor([piece], device=lm.model.device), self.memory,
                                          chunk_segments=self.options.chunk_segments)
            self.tokens += len(piece)
            self.streamed += len(piece)
            self.done_bytes += nbytes * len(piece) / len(ids)
            self.streamed_bytes += nbytes * len(piece) / len(ids)
            if at + step < len(ids):
                self._emit(doc.uri)
        return len(ids)

    def _claim(self, position: int) -> None:
        """The first write of the run: the corpus (created if new) with its roots, and its
        sources from `position` on forgotten, to be streamed again."""
        if self.claimed:
            return
        self.claimed = True
        self._set_roots()
        self.store.delete_sources_from(self.corpus, position)
        # While a re-ingest replaces the stream of the current snapshot, that snapshot stays the
        # one answers come from; checkpoints of the new stream become current only with the final one.
        current = self.store.current_snapshot(self.corpus)
        self.checkpoints_current = current is None or not current.superseded

    def _set_roots(self) -> None:
        info = self.store.get_or_create_corpus(self.corpus, self.lm.fingerprint, self.lm.name)
        if info.roots != self.roots:
            self.store.set_roots(self.corpus, self.roots)
        self.store.set_stream_options(self.corpus, self.options.connector, self.options.connector_options)

    def _save(self, kind: str, make_current: bool) -> None:
        self.snapshot_id = _save(self.store, self.corpus, self.memory, self.pending, self.position,
                                 self.snapshot_id, kind, make_current)
        self.pending = []

    def _nothing(self) -> None:
        n = self.n_items
        raise InputError(f"nothing to ingest in {', '.join(self.paths)}: " + (
            f"all {n} sources were skipped or failed" if n else "no documents found"))

    def _emit(self, uri: str, checking: bool = False) -> None:
        if self.on_progress:
            self.on_progress(Progress(self.position, self.tokens, self.streamed, self.done_bytes,
                                      self.streamed_bytes, self.total_bytes, time.perf_counter() - self.t0,
                                      uri, checking))


def _save(store: Store, corpus: str, memory, records: list[dict], position: int, parent, kind: str,
          make_current: bool = True) -> int:
    return store.save_snapshot(corpus, memory, position=position, parent=parent, kind=kind,
                               make_current=make_current,
                               sources=[(r["position"], r["item"], r["tokens"]) for r in records])


def _report(store, corpus, snapshot_id, up_to_date, n_items, streamed, t0, restreamed_from, checkpoints):
    sources = store.list_sources(corpus)
    snap = store.get_snapshot(corpus, snapshot_id)
    return IngestReport(
        corpus=corpus, snapshot_id=snapshot_id, up_to_date=up_to_date, sources=n_items,
        ingested=sum(r.status == "ingested" for r in sources),
        skipped=[(r.uri, r.reason) for r in sources if r.status == "skipped"],
        failed=[(r.uri, r.reason) for r in sources if r.status == "failed"],
        tokens=streamed, segments=snap.segments, seconds=time.perf_counter() - t0,
        restreamed_from=restreamed_from, checkpoints=checkpoints, snapshot_bytes=snap.nbytes,
    )
