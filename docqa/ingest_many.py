"""Several corpora ingested at once, their model calls batched (`docqa ingest A B C --corpus-per-path`).

Each corpus runs the ordinary pipeline of docqa.ingest (its own writer lock, checkpoints,
resume, sources) in a thread of its own. Where that pipeline calls `model.ingest`, the call
goes to a `Batcher` instead, which holds it until every run still going is waiting on it (a
run reading its sources or saving a snapshot is waited for), then advances all the waiting
streams in one batched call (docqa.model.streams.ingest_streams) and hands each run its memory.
torch releases the interpreter lock inside its kernels, and the batch is what makes the
model's matrices worth multiplying: one call of B streams costs far less than B calls.

Each corpus ends with the memory a run of its own gives, up to floating-point rounding (see
docqa.model.streams); its resume guarantee is docqa.ingest's, per corpus.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from docqa.errors import DocqaError, InputError
from docqa.ingest import IngestOptions, IngestReport, Progress, ingest
from docqa.memory import Memory
from docqa.model.base import LoadedModel
from docqa.model.streams import ingest_streams
from docqa.store import Store


class Batcher:
    """Collects the model calls of `runs` concurrent runs; the last to arrive runs them as one batch.

    Autocast is a per-thread setting: the batches run in the autocast state of the thread that
    made the batcher (docqa.precision's context around `ingest_many`), whichever run's thread
    runs them.
    """

    def __init__(self, model, runs: int):
        self.model, self.live = model, runs
        kind = model.device.type
        self.autocast = (kind, torch.get_autocast_dtype(kind), torch.is_autocast_enabled(kind))
        self.waiting: dict[int, tuple] = {}  # ticket -> (tokens, memory, chunk_segments, use_memory)
        self.results: dict[int, Memory | None] = {}  # None: the batch it was in failed
        self.cond = threading.Condition()
        self.tickets = 0
        self.stopped = False
        self.calls = 0  # batched calls made (for the benchmarks and tests)

    def ingest(self, tokens, memory: Memory, chunk_segments: int, use_memory: bool) -> Memory:
        with self.cond:
            if self.stopped:
                raise KeyboardInterrupt
            ticket, self.tickets = self.tickets, self.tickets + 1
            self.waiting[ticket] = (tokens, memory, chunk_segments, use_memory)
            self._run_if_all_wait()
            while ticket not in self.results and not self.stopped:
                self.cond.wait()
            if ticket not in self.results:
                raise KeyboardInterrupt
            result = self.results.pop(ticket)
        if result is None:
            raise InputError("another corpus's batched model call failed (its error is reported with it)")
        return result

    def leave(self) -> None:
        """A run ended: the others no longer wait for it."""
        with self.cond:
            self.live -= 1
            self._run_if_all_wait()

    def stop(self) -> None:
        """Interrupt: every run's next (or current) wait raises KeyboardInterrupt."""
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def _run_if_all_wait(self) -> None:
        if not self.waiting or len(self.waiting) < self.live:
            return
        batch, self.waiting = self.waiting, {}
        by_kind: dict[tuple, list[int]] = {}  # calls with the same chunking and memory switch go together
        for ticket, (_, _, chunk, use) in batch.items():
            by_kind.setdefault((chunk, use), []).append(ticket)
        kind, dtype, enabled = self.autocast
        try:
            with torch.autocast(kind, dtype=dtype, enabled=enabled):
                for (chunk, use), tickets in by_kind.items():
                    memories = ingest_streams(self.model, [batch[t][0] for t in tickets],
                                              [batch[t][1] for t in tickets], chunk, use)
                    self.results.update(zip(tickets, memories))
                    self.calls += 1
        finally:  # on an error here, the runs waiting with this one learn that their batch failed
            for t in batch:
                self.results.setdefault(t, None)
            self.cond.notify_all()


class _BatchedModel:
    """The model as one run sees it: `ingest` goes through the batcher, everything else is the model's."""

    def __init__(self, model, batcher: Batcher):
        self._model, self._batcher = model, batcher

    def ingest(self, tokens, memory: Memory, chunk_segments: int = 16, use_memory: bool = True) -> Memory:
        return self._batcher.ingest(tokens, memory, chunk_segments, use_memory)

    def __getattr__(self, name: str):
        return getattr(self._model, name)


def ingest_many(db: str | Path, lm: LoadedModel, jobs: list[tuple[str, list[str]]],
                options: IngestOptions | None = None,
                on_progress: Callable[[str, Progress], None] | None = None) -> list[IngestReport | DocqaError]:
    """Ingest each (corpus, paths) of `jobs` into its corpus of the store at `db`, all at once.

    Returns, per job in order, its report or the docqa error that ended it (the other corpora
    go on). `on_progress(corpus, event)` hears every run. Ctrl-C stops every run at its next
    model call (each keeps its last checkpoint) and raises KeyboardInterrupt.
    """
    names = [corpus for corpus, _ in jobs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"corpus {twice[0]!r} is named by more than one path: give each path a corpus of its own")
    if not jobs:
        raise InputError("no paths to ingest: give a folder, a file, or - for standard input")
    batcher = Batcher(lm.model, len(jobs))
    batched = dataclasses.replace(lm, model=_BatchedModel(lm.model, batcher))

    def one(corpus: str, paths: list[str]) -> IngestReport:
        shown = None if on_progress is None else (lambda event: on_progress(corpus, event))
        try:
            with Store(db) as store:
                return ingest(store, batched, corpus, paths, options, shown)
        finally:
            batcher.leave()

    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="docqa-ingest") as pool:
        futures = [pool.submit(one, corpus, paths) for corpus, paths in jobs]
        try:
            errors = [f.exception() for f in futures]  # waits for each
        except KeyboardInterrupt:
            batcher.stop()
            raise
    results: list[IngestReport | DocqaError] = []
    for f, e in zip(futures, errors):
        if e is not None and not isinstance(e, DocqaError):
            raise e  # a bug, or an interrupt, keeps its traceback
        results.append(f.result() if e is None else e)
    return results
