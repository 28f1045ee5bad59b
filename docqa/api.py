"""The Python API the CLI and the integrations are thin layers over.

    from docqa import Corpus
    corpus = Corpus("myrepo")
    corpus.ingest("./repo")
    print(corpus.ask("How is the cache invalidated?").text)

Construction is cheap: the model and the snapshot load on first use and stay in small
per-process caches (least recently used first out), shared by every Corpus object that names
the same model and store. A snapshot is cached under its contents' checksum, not its id alone
(SQLite reuses the id of a deleted snapshot), and every caller gets its own copy of the memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from docqa.answer import AnswerStream
from docqa.errors import SnapshotNotFound, StoreDamaged
from docqa.memory import Memory
from docqa.model.io import LoadedModel, default_model_dir, load_model
from docqa.prompt import DEFAULT_MAX_TOKENS, chat_prompt, prompt_limit, question_tokens
from docqa.store import CorpusInfo, Store, default_store_path

if TYPE_CHECKING:  # imported where used: `docqa ask` needs neither (issue 14, item 4: start-up)
    from docqa.attribution import Attribution, Source
    from docqa.ingest import IngestOptions, IngestReport

MODEL_CACHE_SIZE = 2  # models kept loaded: one per device is the common case
MEMORY_CACHE_SIZE = 4  # snapshot memories kept loaded (a long-lived process may answer from many)

_LOCK = threading.RLock()  # memory() resolves the model while holding it
_MODELS: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
# (store, corpus, snapshot id, snapshot checksum, model fingerprint, device) -> Memory
_MEMORIES: OrderedDict[tuple[str, str, int, str, str, str], Memory] = OrderedDict()


def _cached(cache: OrderedDict, key, size: int, load):
    """cache[key], loaded on a miss; the least recently used entries go beyond `size`."""
    with _LOCK:
        if key in cache:
            cache.move_to_end(key)
        else:
            cache[key] = load()
            while len(cache) > size:
                cache.popitem(last=False)
        return cache[key]


def get_model(path: str | Path | None = None, device: str = "cpu") -> LoadedModel:
    key = (str(Path(path or default_model_dir()).resolve()), device)
    return _cached(_MODELS, key, MODEL_CACHE_SIZE, lambda: load_model(key[0], device=device))


@dataclass
class Answer:
    text: str
    corpus: str
    snapshot_id: int
    model: str
    prompt_tokens: int
    answer_tokens: int
    first_token_s: float | None
    total_s: float
    finish_reason: str  # "stop" (end of answer or a stop sequence) or "length"
    sources: list[Source] | None = None  # asked for: the documents it came from, best first; []: no source found


class Corpus:
    def __init__(self, name: str, db: str | Path | None = None, model: str | Path | None = None,
                 device: str = "cpu"):
        self.name = name
        self.db_path = Path(db) if db else default_store_path()
        self.model_path = model
        self.device = device

    @property
    def lm(self) -> LoadedModel:
        return get_model(self.model_path, self.device)

    def store(self) -> Store:
        return Store(self.db_path)

    def info(self) -> CorpusInfo:
        """What the store says of the corpus: sizes, roots, whether its last ingest finished."""
        with self.store() as store:
            return store.get_corpus(self.name)

    def ingest(self, *paths: str, options: IngestOptions | None = None, on_progress=None,
               on_wait=None) -> IngestReport:
        from docqa.ingest import ingest

        with self.store() as store:
            return ingest(store, self.lm, self.name, [str(p) for p in paths], options, on_progress, on_wait)

    def memory(self, snapshot: int | None = None) -> tuple[Memory, int]:
        """The snapshot's memory (the current one by default), the caller's own copy, and its id."""
        lm = self.lm
        with self.store() as store, store.reading():  # the snapshot named is the snapshot loaded
            snap = store.current_snapshot(self.name) if snapshot is None else store.get_snapshot(self.name, snapshot)
            if snap is None:
                raise SnapshotNotFound(f"corpus {self.name!r} has no snapshot yet: "
                                       f"ingest documents into it with `docqa ingest PATH --corpus {self.name}`")
            try:
                key = (str(self.db_path.resolve()), self.name, snap.id, store.snapshot_checksum(self.name, snap.id),
                       lm.fingerprint, self.device)
                memory = _cached(_MEMORIES, key, MEMORY_CACHE_SIZE, lambda: store.load_snapshot(
                    self.name, snap.id, model_fingerprint=lm.fingerprint, model_name=lm.name, device=self.device))
            except StoreDamaged as e:
                if snapshot is not None:
                    raise
                raise store.damaged_current(self.name, snap.id, e) from e  # names an intact snapshot
        return memory.clone(), snap.id

    def prompt(self, question: str, template: str = "ask", **fields: str) -> list[int]:
        """The token ids that ask `question` through a template of prompts/ (or a .txt path)."""
        return question_tokens(self.lm.tokenizer, question, template, **fields)

    def chat_prompt(self, question: str, history: list[tuple[str, str]] = (), system: str = "",
                    template: str = "chat", fit: bool = False) -> list[int]:
        """The token ids of a chat prompt: `system`, the earlier (question, answer) turns, then
        `question`. With `fit`, the oldest turns are left out until the prompt fits the model."""
        lm = self.lm
        limit = prompt_limit(lm.config.segment_len) if fit else None
        return chat_prompt(lm.tokenizer, question, list(history), system, template, limit)

    def stream(self, question: str | None = None, *, prompt: list[int] | None = None, template: str = "ask",
               max_tokens: int = DEFAULT_MAX_TOKENS, temperature: float = 0.0, top_k: int | None = None,
               stop: list[str] | None = None, snapshot: int | None = None, seed: int | None = None,
               contrast: float = 0.0) -> tuple[AnswerStream, int]:
        """An AnswerStream to iterate for text pieces, and the snapshot id it answers from. `contrast`
        > 0 decodes from what the memory adds over the model without it (`docqa.model.base.generate`)."""
        memory, snap_id = self.memory(snapshot)
        ids = prompt if prompt is not None else self.prompt(question or "", template)
        return AnswerStream(self.lm, memory, ids, max_tokens, temperature, top_k, list(stop or []), seed,
                            contrast), snap_id

    def ask(self, question: str, *, sources: bool = False, **kwargs) -> Answer:
        """The answer to `question`; with `sources`, also the documents it came from (`attribute`)."""
        s, snap_id = self.stream(question, **kwargs)
        s.run()
        found = self.attribute(s.text, prompt=s.prompt, snapshot=snap_id) if sources else None
        return self.answer_of(s, snap_id, found)

    def attribute(self, answer: str, question: str | None = None, *, prompt: list[int] | None = None,
                  template: str = "ask", snapshot: int | None = None,
                  options: IngestOptions | None = None) -> Attribution:
        """Where `answer`, to `question` (or to the prompt token ids `prompt`), came from in the
        corpus as of `snapshot` (default: the current one): the documents whose reading raised its
        likelihood, best first, or none ("no source found"). See docqa.attribution. `options`:
        connector options to read the sources again with, where the stored ones are not enough
        (a PDF password is never stored)."""
        from docqa.attribution import attribute

        ids = prompt if prompt is not None else self.prompt(question or "", template)
        with self.store() as store:
            return attribute(store, self.lm, self.name, ids, answer, snapshot, options)

    def answer_of(self, s: AnswerStream, snap_id: int, attribution: Attribution | None = None) -> Answer:
        return Answer(s.text, self.name, snap_id, self.lm.name, len(s.prompt), s.answer_tokens,
                      s.first_token_s, s.total_s, s.finish_reason,
                      None if attribution is None else attribution.sources)
