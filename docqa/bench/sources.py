"""Attribution bench: a needle hidden in document k of N, found again as the answer's top source.

Each trial writes N documents into a folder of its own (the model's synthetic filler, or the text
of any haystack folder read through the connectors, each cut to `doc_bytes`), hides the passkey
sentence in document k (a fixed-seed random k) at a sentence boundary near its middle, ingests
the folder through the real connectors into a fresh corpus with the default checkpoint policy
(`IngestOptions()`), asks "What is the pass key?" as `docqa ask` does, and attributes the model's
own answer (`docqa.attribution`). A no-answer trial does the same without a needle: the answer
the model gives is not in the corpus, and the right result is "no source found".

Reported per N: how often the top source is document k, how often the answer was the pass key,
how often a no-answer trial found no source, and per attributed answer the forward passes
(answer scorings), the documents replayed and the wall time, beside the checkpoints the
corpus held and the time its ingest took.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from docqa.answer import AnswerStream
from docqa.attribution import attribute
from docqa.errors import InputError
from docqa.ingest import IngestOptions, documents, ingest
from docqa.model.base import LoadedModel
from docqa.prompt import question_tokens
from docqa.store import Store
from docqa.train.tasks import PASSKEY_FORMS, SIMPLE_FILLER, digits

QUESTION = PASSKEY_FORMS[0][1]  # "What is the pass key?"


@dataclass
class SourcesCell:
    n_docs: int
    trials: int  # needle trials
    top1: float  # the top source of the model's answer is the needle's document
    top1_truth: float  # the top source of the pass key itself (what the needle says) is the needle's document
    answered: float  # the model's answer was the pass key
    no_answer_trials: int
    no_source: float  # of the no-answer trials: "no source found"
    forward_passes: float  # per attributed answer (needle trials), mean
    max_forward_passes: int
    replayed: float  # documents replayed per answer, mean
    seconds: float  # attribution wall time per answer, mean
    checkpoints: float  # stored checkpoints inside the stream, mean per corpus
    ingest_seconds: float  # per corpus, mean
    misses: list = field(default_factory=list)  # needle trials answered wrong: {trial, doc, answer, got}


def filler_texts(doc_bytes: int, rng: random.Random, n: int) -> list[str]:
    """n documents of the model's own filler, each `doc_bytes` long from a random place in it."""
    period = len(SIMPLE_FILLER)
    long = SIMPLE_FILLER * (doc_bytes // period + 2)
    out = []
    for _ in range(n):
        start = rng.randrange(period)
        out.append(long[start:start + doc_bytes].strip() + "\n")
    return out


def haystack_texts(paths: list[str], doc_bytes: int) -> list[str]:
    """The texts of the documents under `paths` (through the connectors), each cut to `doc_bytes`."""
    texts = [d.text[:doc_bytes].strip() + "\n" for d in documents(paths) if d.text.strip()]
    if not texts:
        raise InputError(f"no documents with text under {', '.join(paths)}: point --haystack at a folder of text")
    return texts


def hide(text: str, needle: str) -> str:
    """`text` with `needle` at the sentence boundary nearest its middle (its start when none)."""
    ends = [i + 2 for i in range(len(text) - 1) if text[i:i + 2] == ". "]
    at = min(ends, key=lambda i: abs(i - len(text) // 2)) if ends else 0
    return text[:at] + needle + text[at:]


def doc_name(i: int) -> str:
    """A file name without digits ("doc-aab.txt"), so that no digit of an answer can come from a
    header line; names sort in stream order."""
    letters = ""
    for _ in range(4):
        i, r = divmod(i, 26)
        letters = chr(ord("a") + r) + letters
    return f"doc-{letters}.txt"


def draw_trial(n_docs: int, i: int, needle: bool, doc_bytes: int = 256, seed: int = 0,
               pool: list[str] | None = None) -> tuple[list[str], int | None, str]:
    """Trial i of a cell of N documents: the documents' texts (from `pool`, the haystack's texts, or
    the model's filler), the document k the needle goes into (None without one) and the pass key.
    The same seed and i give the same trial, whoever draws it (the bench and its diagnostics)."""
    rng = random.Random(f"{seed}:{n_docs}:{i}")
    if pool:
        start = rng.randrange(len(pool))
        texts = [pool[(start + j) % len(pool)] for j in range(n_docs)]
    else:
        texts = filler_texts(doc_bytes, rng, n_docs)
    k = rng.randrange(n_docs) if needle else None
    return texts, k, digits(rng)


def _trial(lm: LoadedModel, store: Store, folder: Path, name: str, texts: list[str], k: int | None,
           key: str, options: IngestOptions) -> dict:
    folder.mkdir(parents=True)
    needle = PASSKEY_FORMS[0][0].format(v=key)
    for i, text in enumerate(texts):
        (folder / doc_name(i)).write_text(hide(text, needle) if i == k else text, encoding="utf-8")
    t0 = time.perf_counter()
    ingest(store, lm, name, [str(folder)], options)
    ingest_s = time.perf_counter() - t0
    memory = store.load_snapshot(name, model_fingerprint=lm.fingerprint, device=str(lm.model.device))
    prompt = question_tokens(lm.tokenizer, QUESTION)
    answer = AnswerStream(lm, memory, prompt, max_tokens=len(key) + 4).run()
    a = attribute(store, lm, name, prompt, answer)
    truth = attribute(store, lm, name, prompt, key) if k is not None else None
    return dict(answer=answer, key=key, doc=k, right=answer == key, found=a.found, gain=a.full - a.knockout,
                top1=k is not None and a.found and a.sources[0].position == k,
                top1_truth=truth is not None and truth.found and truth.sources[0].position == k,
                passes=a.forward_passes, replayed=a.replayed, seconds=a.seconds, checkpoints=a.checkpoints,
                ingest_s=ingest_s)


def run_cell(lm: LoadedModel, n_docs: int, trials: int, no_answer_trials: int, doc_bytes: int = 256,
             seed: int = 0, haystack: list[str] | None = None, options: IngestOptions | None = None,
             workdir: Path | None = None) -> SourcesCell:
    """`options`: the checkpoint policy the corpora are ingested with (default: ingest's own)."""
    pool = haystack_texts(haystack, doc_bytes) if haystack else None
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        with Store(root / "bench.db") as store:
            results: dict[bool, list[dict]] = {True: [], False: []}
            for i in range(trials + no_answer_trials):
                needle = i < trials
                texts, k, key = draw_trial(n_docs, i, needle, doc_bytes, seed, pool)
                results[needle].append(_trial(lm, store, root / f"t{i}", f"t{i}", texts, k, key,
                                              options or IngestOptions()))
    hit, miss = results[True], results[False]
    everything = hit + miss
    return SourcesCell(
        n_docs=n_docs, trials=trials, top1=_mean(r["top1"] for r in hit),
        top1_truth=_mean(r["top1_truth"] for r in hit),
        answered=_mean(r["right"] for r in hit),
        no_answer_trials=no_answer_trials, no_source=_mean(not r["found"] for r in miss),
        forward_passes=_mean(r["passes"] for r in hit), max_forward_passes=max((r["passes"] for r in hit), default=0),
        replayed=_mean(r["replayed"] for r in hit), seconds=_mean(r["seconds"] for r in hit),
        checkpoints=_mean(r["checkpoints"] for r in everything),
        ingest_seconds=_mean(r["ingest_s"] for r in everything),
        misses=[{"trial": i, "doc": r["doc"], "answer": r["key"], "got": r["answer"]}
                for i, r in enumerate(hit) if not r["right"]])


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0


def sources_bench(lm: LoadedModel, n_docs: list[int], trials: int, no_answer_trials: int, doc_bytes: int = 256,
                  seed: int = 0, haystack: list[str] | None = None, trials_for: dict[int, int] | None = None,
                  options: IngestOptions | None = None, on_cell=None) -> list[SourcesCell]:
    """One cell per N. `trials_for` gives fewer (or more) trials of each kind for some N."""
    if doc_bytes < 64:
        raise InputError(f"documents of {doc_bytes} bytes are too short to hide a needle in: "
                         "use --doc-bytes 64 or more")
    cells = []
    for n in n_docs:
        if n < 1:
            raise InputError(f"a corpus needs at least one document, got N = {n}")
        t = (trials_for or {}).get(n)
        cells.append(run_cell(lm, n, trials if t is None else t, no_answer_trials if t is None else t, doc_bytes,
                              seed, haystack, options))
        if on_cell:
            on_cell(cells[-1])
    return cells


def format_table(cells: list[SourcesCell]) -> str:
    rows = ["| N docs | trials | top-1 = needle's doc | top-1, the pass key itself | answer right | no-answer trials "
            "| no source found | forward passes / answer (max) | docs replayed / answer | attribution s / answer "
            "| checkpoints | ingest s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows += [f"| {c.n_docs} | {c.trials} | {c.top1:.2f} | {c.top1_truth:.2f} | {c.answered:.2f} | {c.no_answer_trials} "
             f"| {c.no_source:.2f} "
             f"| {c.forward_passes:.1f} ({c.max_forward_passes}) | {c.replayed:.1f} | {c.seconds:.2f} "
             f"| {c.checkpoints:.1f} | {c.ingest_seconds:.1f} |" for c in cells]
    return "\n".join(rows)


def to_json(cells: list[SourcesCell]) -> list[dict]:
    return [asdict(c) for c in cells]
