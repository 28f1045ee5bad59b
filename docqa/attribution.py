"""Attribution: which documents of a corpus an answer came from, read off the memory itself.

A compressive memory has no chunks to cite, but the store holds the memory at document
boundaries along the stream (its checkpoints). Let f(p) = log p(answer | prompt, memory after
stream items [0, p)), the answer's tokens teacher-forced after the prompt, natural log, summed
(`score`). f(0) is the knockout (an empty memory); f(N) is the snapshot the answer came from.

- f(N) - f(0) <= MIN_GAIN * SEARCH_SHARE: no source found. The answer is about as likely from an
  empty memory as from the corpus: the model answered from its weights. Two forward passes.
- Otherwise the stream is bisected over the stored checkpoints: a stretch [a, b) whose rise
  f(b) - f(a) exceeds MIN_GAIN * SEARCH_SHARE is split at its middle checkpoint, and each half
  that still rises is split again (one forward pass per split: O(log C) for C checkpoints).
  A stretch that rises while neither half does holds a rise across its split point (a segment
  written half before it, half after): the documents on either side of it are tested.
- The rising stretch with no checkpoint inside that rises most (MAX_REPLAYS of them) is
  replayed: its documents are read again through the connectors (checked against the stored
  hashes) and streamed from the checkpoint at its start into a scratch memory, which is kept
  at up to SPLITS places (in RAM) for the bisection to go on over. The store is only read.
  Once a source is found, only stretches rising by MIN_GAIN are followed further.
- The bisection ends at the document reading which raised the answer. It, and the document
  before it (a statement at a document's end reaches the memory when the next one completes
  the segment), is a source if the answer is likelier with it than with another document of
  the corpus in its place, one document later: f(M + d_p + d_q) - f(M + d_s + d_q) > MIN_GAIN
  (`_counterfactual`), and that is its gain. The knockout alone is not enough: any text raises
  an answer over an empty memory, which the model never saw in training, so it would credit
  the first document with every guess.

The sources are reported best first by gain; none: "no source found". Ingest keeps a checkpoint
every `IngestOptions.checkpoint_segments` segments, spread over the whole stream by retention
(docqa.store.retention), so a replay is short: README, "Sources", has the costs.
"""

from __future__ import annotations

import heapq
import re
import time
from dataclasses import dataclass, field
from itertools import islice

import torch

from connectors.document import Document
from docqa.errors import AttributionError, InputError
from docqa.ingest import IngestOptions, items
from docqa.memory import Memory
from docqa.model.base import ANSWER_RESERVE, LoadedModel, question_memory
from docqa.prompt import document_tokens
from docqa.store import SnapshotInfo, Store
from docqa.store.records import SourceRecord

# Nats. A document raises an answer's log-likelihood by more than this over another document
# read in its place: a source. On the default model's passkey task (calibration trials with a
# seed of their own, 16 with a needle and 16 without, 10 and 100 documents) a needle's document
# gained 11.0-24.7, every other document tested -1.1-0.6; a memory of filler alone raised the
# model's guess 0.6-11.0 over the empty memory, which is why the knockout alone cannot decide.
# A whole 5-digit key made certain is about 11.5 (5 ln 10). Answers of one or two tokens can
# hardly gain this much: they get no source.
MIN_GAIN = 8.0
# The search follows a stretch whose answer likelihood rises by more than this share of MIN_GAIN:
# a source's own rise is often partly hidden in its stretch, where the text before it lowered
# the answer below the knockout first (the default model's filler does so for a guessed key).
# The corpus as a whole rising less than this over the knockout is "no source found".
SEARCH_SHARE = 0.5
MAX_SOURCES = 5  # sources reported, best first
SPLITS = 16  # memories a replay keeps (in RAM) for the search to go on over
MAX_REPLAYS = 1  # stretches between stored snapshots replayed per answer, the one rising most first

_PAGE = re.compile(r"#page=(\d+)$")


@dataclass(frozen=True)
class Source:
    """A document an answer came from, and how much reading it raised the answer's log-likelihood."""

    uri: str  # where it is: an absolute path, plus #page=N for a PDF page
    path: str  # the path relative to the folder that was ingested (the header the model read)
    page: int | None  # the PDF page (1-based), None for other documents
    gain: float  # nats: log p(answer) with the document read minus with another in its place (`_counterfactual`)
    position: int  # its place in the corpus's stream


@dataclass
class Attribution:
    sources: list[Source]  # best first; empty: no source found
    full: float  # log p(answer | prompt, the snapshot's memory), nats
    knockout: float  # log p(answer | prompt, an empty memory), nats
    forward_passes: int  # answer scorings, each one forward pass of prompt + answer
    replayed: int  # documents streamed again from a checkpoint
    replayed_tokens: int
    seconds: float
    snapshot_id: int
    positions: int = 0  # stream items the snapshot covers
    checkpoints: int = 0  # stored checkpoints inside the stream that the search could use

    @property
    def found(self) -> bool:
        return bool(self.sources)


@torch.no_grad()
def answer_logprobs(lm: LoadedModel, memory: Memory, prompt: list[int], answer: list[int],
                    reserve: int = ANSWER_RESERVE) -> torch.Tensor:
    """The log-softmax (A, V), float64, over the vocabulary at each of the answer's A tokens, teacher-forced
    after the prompt in one forward pass (the prompt continuing the memory's pending tokens in the
    segment where answering puts it: `docqa.model.base.question_memory`, with the same `reserve`).
    The memory is not modified."""
    if not prompt:
        raise InputError("empty prompt: attribution scores an answer after its question")
    ids = torch.tensor([prompt + answer], dtype=torch.long, device=lm.model.device)
    # a question split by a segment boundary can leave the model unable to read it (the default
    # model's answer dropped by 10-20 nats at such places), which would hide a rise, or fake one,
    # depending only on where a document happens to end: scored where answering asks it
    logits, _ = lm.model(ids, question_memory(lm.model, memory, len(prompt), reserve))  # (1, P+A, V)
    return torch.log_softmax(logits[0, len(prompt) - 1:-1].double(), -1)  # position t predicts token t+1


def score(lm: LoadedModel, memory: Memory, prompt: list[int], answer: list[int],
          reserve: int = ANSWER_RESERVE) -> float:
    """log p(answer | prompt, memory) in nats: `answer_logprobs`' entries of the answer's own tokens,
    summed. The memory is not modified. An empty answer scores 0."""
    if not prompt:
        raise InputError("empty prompt: attribution scores an answer after its question")
    if not answer:
        return 0.0
    logp = answer_logprobs(lm, memory, prompt, answer, reserve)
    return float(logp.gather(-1, torch.tensor(answer, device=logp.device)[:, None]).sum())


def rises(value, lo: int, hi: int, splits: list[int], min_gain: float, stretch, across=None,
          then: float | None = None) -> list[tuple[int, float]]:
    """The (position, gain) pairs that `stretch(a, b)` reports for the stretches [a, b) between
    adjacent split points where `value` rises by more than `min_gain`, found by bisection, best
    first: the stretch that rises most is split at its middle split point, and each half that
    still rises is queued. When neither half rises, the rise spans the split point (each half
    rising less): `across(mid)` is asked, if given. Once something is found, only stretches
    rising by more than `then` (if given) are followed further. `value(p)` is evaluated once per
    split point visited (it should cache); `splits` are sorted."""
    found: list[tuple[int, float]] = []
    queue: list[tuple[float, int, int]] = []

    def push(a: int, b: int) -> bool:
        rise = value(b) - value(a)
        if rise > min_gain:
            heapq.heappush(queue, (-rise, a, b))
        return rise > min_gain

    push(lo, hi)
    while queue:
        rise, a, b = heapq.heappop(queue)
        if found and then is not None and -rise <= then:
            break
        inside = [p for p in splits if a < p < b]
        if not inside:
            found += stretch(a, b)
            continue
        mid = inside[len(inside) // 2]
        left, right = push(a, mid), push(mid, b)
        if not (left or right) and across is not None:
            found += across(mid)
    return found


def attribute(store: Store, lm: LoadedModel, corpus: str, prompt: list[int], answer: str,
              snapshot_id: int | None = None, options: IngestOptions | None = None,
              min_gain: float = MIN_GAIN, max_sources: int = MAX_SOURCES,
              max_replays: int = MAX_REPLAYS) -> Attribution:
    """The documents of `corpus` that `answer` (to the question `prompt`) came from, as of
    snapshot `snapshot_id` (default: the current one). Reads the store, never writes it.
    `options` gives the connector options a replay reads the sources with (default: those the
    corpus was ingested with, as stored; a password is never stored). `max_replays`: stretches
    between checkpoints replayed at most (more can find a second source far from the first)."""
    chunk = (options or IngestOptions()).chunk_segments
    return _Attribution(store, lm, corpus, prompt, answer, snapshot_id, options, min_gain, chunk,
                        max_replays).run(max_sources)


@dataclass
class _Attribution:
    store: Store
    lm: LoadedModel
    corpus: str
    prompt: list[int]
    answer_text: str
    snapshot_id: int | None
    options: IngestOptions | None
    min_gain: float
    chunk_segments: int = IngestOptions.chunk_segments  # as ingest feeds a document
    max_replays: int = MAX_REPLAYS
    replays: int = 0
    values: dict[int, float] = field(default_factory=dict)
    marks: dict[int, Memory] = field(default_factory=dict)  # memories a replay passed, by position (RAM only)
    texts: dict[int, Document] = field(default_factory=dict)  # documents read again, by position
    tested: dict[int, float] = field(default_factory=dict)  # counterfactual gains, by position
    passes: int = 0
    replayed: int = 0
    replayed_tokens: int = 0

    def run(self, max_sources: int) -> Attribution:
        t0 = time.perf_counter()
        tok = self.lm.tokenizer
        self.answer = tok.encode(tok.answer_prefix + self.answer_text) if self.answer_text else []
        self.snap = self._snapshot()
        N = self.snap.position
        with self.store.reading():
            usable = [s for s in self.store.list_snapshots(self.corpus)
                      if not s.superseded and 0 < s.position < N]
            self.sources = {r.position: r for r in self.store.list_sources(self.corpus) if r.position < N}
        self.checkpoints = {s.position: s.id for s in usable}  # the newest snapshot at each position
        search = self.min_gain * SEARCH_SHARE
        found = rises(self.value, 0, N, sorted(self.checkpoints), search, self.stretch, self.across,
                      then=self.min_gain) if N else []
        found = sorted(dict(found).items(), key=lambda pg: -pg[1])  # a document found twice counts once
        sources = [self._source(p, g) for p, g in found[:max_sources]]
        return Attribution(sources, self.value(N), self.value(0), self.passes, self.replayed, self.replayed_tokens,
                           time.perf_counter() - t0, self.snap.id, N, len(self.checkpoints))

    def _snapshot(self) -> SnapshotInfo:
        s = self.store
        snap = s.current_snapshot(self.corpus) if self.snapshot_id is None else s.get_snapshot(self.corpus,
                                                                                               self.snapshot_id)
        if snap is None:
            raise AttributionError(f"corpus {self.corpus!r} has no snapshot yet: ingest documents into it first")
        if snap.superseded:
            raise AttributionError(
                f"corpus {self.corpus!r} snapshot {snap.id} is being replaced by an ingest that has not finished, "
                f"and the sources it was built from are no longer recorded: finish that ingest (run `docqa ingest` "
                f"on the corpus again) and ask again to see sources")
        return snap

    def memory_at(self, position: int) -> Memory:
        lm = self.lm
        if position == 0:
            return lm.model.new_memory(1)
        if position in self.marks:
            return self.marks[position]
        sid = self.snap.id if position == self.snap.position else self.checkpoints[position]
        return self.store.load_snapshot(self.corpus, sid, model_fingerprint=lm.fingerprint, model_name=lm.name,
                                        device=str(lm.model.device))

    def value(self, position: int) -> float:
        if position not in self.values:
            self.values[position] = self._score(self.memory_at(position))
        return self.values[position]

    def _score(self, memory: Memory) -> float:
        """`score`: the question in the segment answering asks it in, at every memory alike."""
        self.passes += 1
        return score(self.lm, memory, self.prompt, self.answer)

    def stretch(self, a: int, b: int) -> list[tuple[int, float]]:
        """The sources in [a, b), a rising stretch with no checkpoint inside. One document: see
        `_sources_near`. More: they are streamed again from the memory at a, keeping the memory at
        up to SPLITS places along the way (in RAM only), and the search goes on over those."""
        docs = [p for p in range(a, b) if self._record(p).status == "ingested"]
        if not docs:  # skipped items only: the memory did not change
            return []
        if len(docs) == 1:
            return self._sources_near(docs[0])
        if a not in self.marks:  # a replay from a stored snapshot, not a finer look inside one
            if self.replays >= self.max_replays:
                return []
            self.replays += 1
        self._fetch(docs[0], docs[-1])
        step = -(-len(docs) // SPLITS)
        memory = self.memory_at(a)
        for i, p in enumerate(docs[:-1]):  # after the last one, the memory is b's
            memory = self._feed(memory, self.texts[p])
            if (i + 1) % step == 0:
                self.marks[p + 1] = memory
        inside = sorted(m for m in self.marks if a < m < b)
        return rises(self.value, a, b, inside, self.min_gain * SEARCH_SHARE, self.stretch, self.across,
                     then=self.min_gain)

    def across(self, position: int) -> list[tuple[int, float]]:
        """A rise that spans `position`: the documents on either side of it (see `_sources_near`)."""
        after = next((q for q in range(position, self.snap.position) if self._record(q).status == "ingested"), None)
        if after is None:
            before = self._previous_doc(position)
            return [] if before is None else self._sources_near(before)
        return self._sources_near(after)

    def _sources_near(self, c: int) -> list[tuple[int, float]]:
        """Document c, reading which raised the answer, and the document before it (a statement at
        the end of a document reaches the memory only when the next one completes its segment):
        each whose counterfactual gain exceeds `min_gain`, with that gain."""
        before = self._previous_doc(c)
        found = []
        for p in ([] if before is None else [before]) + [c]:
            if p not in self.tested:
                self.tested[p] = self._counterfactual(p)
            if self.tested[p] > self.min_gain:
                found.append((p, self.tested[p]))
        return found

    def _counterfactual(self, p: int) -> float:
        """What document p brought to the answer: f(M + d_p + d_q) - f(M + d_s + d_q) for the memory M
        before it, the next document q, and another document s read in p's place (the one after
        q, else the one before p; none in a corpus of two). At the end of the stream it is
        f(M + d_p) - f(M + d_r), the previous document r read in its place, and in a corpus of one
        document f(M + d_p) - f(empty memory). The next document is read on both sides because a
        statement at the end of p reaches the memory only when q completes its segment; a
        document is put in p's place because how much text the memory has read, and where the
        question falls in its segment, moves an answer's likelihood by itself. Any text raises an
        answer over an empty memory (the model never saw one in training): a source raises it
        more than other documents of the corpus would have."""
        q, r = self._next_doc(p), self._previous_doc(p)
        s = None if q is None else self._next_doc(q)
        s = r if s is None else s
        self._fetch(self._known_at_or_before(p), p if q is None else q)
        memory = self._memory_before(p)
        if q is not None:
            with_p = self.values.get(q + 1)  # items between p and q are skips: this is M + d_p + d_q
            if with_p is None:
                with_p = self._score(self._feed(self._feed(memory, self.texts[p]), self.texts[q]))
            instead = memory if s is None else self._feed(memory, self.texts[s])
            return with_p - self._score(self._feed(instead, self.texts[q]))
        with_p = self.values.get(p + 1)
        if with_p is None:
            with_p = self._score(self._feed(memory, self.texts[p]))
        return with_p - (self.value(0) if r is None else self._score(self._feed(memory, self.texts[r])))

    def _known_at_or_before(self, p: int) -> int:
        """The nearest position at or before p whose memory needs no replay."""
        return max([0, *(c for c in self.checkpoints if c <= p), *(m for m in self.marks if m <= p)])

    def _memory_before(self, p: int) -> Memory:
        """The memory after items [0, p), from the nearest known one (streaming the documents between)."""
        start = self._known_at_or_before(p)
        memory = self.memory_at(start)
        between = [q for q in range(start, p) if self._record(q).status == "ingested"]
        for q in between:
            memory = self._feed(memory, self.texts[q])
        if between:
            self.marks[p] = memory
        return memory

    def _fetch(self, first: int, last: int) -> None:
        """Documents first..last and their neighbours into `texts`, in one pass over the sources
        (none when all are there already)."""
        lo, hi = self._previous_doc(first), self._next_doc(last)
        lo, hi = (first if lo is None else lo), (last if hi is None else hi)
        if any(self._record(q).status == "ingested" and q not in self.texts for q in range(lo, hi + 1)):
            self.texts.update(self._read(lo, hi + 1))

    def _previous_doc(self, p: int) -> int | None:
        return next((q for q in range(p - 1, -1, -1) if self._record(q).status == "ingested"), None)

    def _next_doc(self, p: int) -> int | None:
        return next((q for q in range(p + 1, self.snap.position) if self._record(q).status == "ingested"), None)

    def _feed(self, memory: Memory, doc: Document) -> Memory:
        lm = self.lm
        ids = document_tokens(lm.tokenizer, doc)
        self.replayed += 1
        self.replayed_tokens += len(ids)
        return lm.model.ingest(torch.tensor([ids], device=lm.model.device), memory,
                               chunk_segments=self.chunk_segments)

    def _record(self, position: int) -> SourceRecord:
        rec = self.sources.get(position)
        if rec is None:
            raise AttributionError(f"corpus {self.corpus!r} records no source at stream position {position}, "
                                   f"which snapshot {self.snap.id} covers: ingest the corpus again")
        return rec

    def _read(self, a: int, b: int) -> dict[int, Document]:
        """The documents at stream positions [a, b), read again through the connectors and checked
        against what the corpus recorded. The store is not written."""
        info = self.store.get_corpus(self.corpus)
        if not info.roots:
            raise AttributionError(f"corpus {self.corpus!r} does not record the paths it was ingested from "
                                   f"(ingested by an older docqa): ingest it again to see sources")
        if "-" in info.roots:
            raise AttributionError(f"corpus {self.corpus!r} was ingested from standard input, which cannot be read "
                                   f"again to narrow its sources down")
        options = self.options or self._stored_options()
        out = {}
        for position, item in islice(enumerate(items(info.roots, options)), a, b):
            self._check(position, item)
            if isinstance(item, Document):
                out[position] = item
        if len(out) != sum(self._record(p).status == "ingested" for p in range(a, b)):
            raise AttributionError(f"the sources of corpus {self.corpus!r} end before stream position {b - 1}, "
                                   f"which it was ingested with: ingest it again to see sources")
        return out

    def _stored_options(self) -> IngestOptions:
        connector, connector_options = self.store.stream_options(self.corpus)
        return IngestOptions(connector=connector, connector_options=connector_options)

    def _check(self, position: int, item) -> None:
        rec = self._record(position)
        if isinstance(item, Document):
            same = rec.status == "ingested" and (rec.doc_id, rec.content_hash) == (item.id, item.hash)
        else:
            same = rec.status == item.kind and rec.uri == item.uri
        if not same:
            raise AttributionError(
                f"{item.uri} (stream position {position}) is not what corpus {self.corpus!r} was built from: "
                f"the sources changed since they were ingested (or need the options they were ingested with, "
                f"such as a PDF password); ingest the corpus again to see sources")

    def _source(self, position: int, gain: float) -> Source:
        rec = self._record(position)
        m = _PAGE.search(rec.uri)
        path = _PAGE.sub("", rec.doc_id or rec.uri)
        return Source(uri=rec.uri, path=path, page=int(m.group(1)) if m else None, gain=gain, position=position)
