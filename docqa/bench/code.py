"""Questions about a code folder, answered through the real ingest and ask path.

The folder is ingested with `docqa ingest`'s own pipeline into a throw-away store; questions
come from `ast` (docqa.train.codefacts: which file defines f, the parameters of f, a module
constant's value, a class's base) and are asked with the `ask` template, as `docqa ask` does.
Beside each kind: the knockout (the same question over an empty memory), the FTS5 baseline
over 512-byte chunks of each file as the stream holds it (right when its top chunk holds the
answer; for "which file defines f", when the top chunk's file is the one, as a retrieval
system shows the file beside the chunk), and the memory's gain: how many nats a token the
memory adds to the true answer's log-likelihood, teacher-forced (docqa.attribution.score), over
the knocked-out memory. Exact match moves only once a whole answer is right; the gain shows a
model learning to read code long before that (docs/TRAINING.md, thirty-third and thirty-fourth
sessions).
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from connectors.document import shown_path
from docqa.answer import AnswerStream
from docqa.attribution import score
from docqa.bench.fts import FtsIndex
from docqa.errors import InputError
from docqa.ingest import IngestOptions, documents, ingest
from docqa.model.io import LoadedModel
from docqa.prompt import answer_tokens, document_tokens, question_tokens
from docqa.store import Store
from docqa.train import phrasings as ph
from docqa.train.codefacts import code_facts


@dataclass
class CodeCell:
    kind: str
    split: str  # question phrasing seen in training ("train") or never seen ("heldout")
    n: int
    exact: float
    knockout: float
    fts: float
    gain: float  # mean over the questions of (log p(answer | memory) - log p(answer | empty memory)) / answer tokens
    examples: list  # up to three (question, truth, docqa's answer)


def _ask(lm: LoadedModel, memory, prompt: list[int], max_tokens: int) -> str:
    return AnswerStream(lm, memory, prompt, max_tokens=max_tokens, seed=0).run().strip()


def code_bench(lm: LoadedModel, folder: str, n: int, seed: int = 0, on_cell=None,
               options: IngestOptions | None = None, splits: tuple[str, ...] = ("train", "heldout")
               ) -> tuple[list[CodeCell], dict]:
    facts = code_facts(Path(folder))
    if not facts:
        raise InputError(f"{folder} has no Python definitions to ask about: point `docqa bench code` at a folder of .py files")
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        report = ingest(store, lm, "bench", [folder], options)
        memory = store.load_snapshot("bench", report.snapshot_id, model_fingerprint=lm.fingerprint,
                                     model_name=lm.name)
    files = [(shown_path(d), lm.tokenizer.decode(document_tokens(lm.tokenizer, d))) for d in documents([folder], options)]
    empty = memory.clone().zero_()  # the knockout; answering and scoring only read a memory
    cells = []
    with FtsIndex(documents=files) as fts:
        for kind in ph.CODE_QUESTIONS:
            for split in splits:
                rng = random.Random(f"{seed}:{kind}:{split}")  # the same facts for both splits
                chosen = [f for f in facts if f.kind == kind]
                chosen = rng.sample(chosen, min(n, len(chosen)))
                if not chosen:
                    continue
                exact = knock = hits = 0
                gain = 0.0
                examples = []
                for f in chosen:
                    q = rng.choice(ph.split(ph.CODE_QUESTIONS[kind], split)).format(subject=f.subject)
                    prompt = question_tokens(lm.tokenizer, q)
                    max_tokens = len(lm.tokenizer.encode(" " + f.answer)) + 4
                    got = _ask(lm, memory, prompt, max_tokens)
                    exact += got == f.answer
                    knock += _ask(lm, empty, prompt, max_tokens) == f.answer
                    if kind == "defines":
                        hits += fts.top1_source(q) == f.answer
                    else:
                        top = fts.top1(q)
                        hits += top is not None and f.answer in top
                    # nats a token the memory adds to the answer as training writes it (<|end|> included)
                    ans = answer_tokens(lm.tokenizer, f.answer)
                    gain += (score(lm, memory, prompt, ans) - score(lm, empty, prompt, ans)) / len(ans)
                    if len(examples) < 3:
                        examples.append((q, f.answer, got))
                k = len(chosen)
                cells.append(CodeCell(kind, split, k, exact / k, knock / k, hits / k, gain / k, examples))
                if on_cell:
                    on_cell(cells[-1])
    info = {"folder": str(folder), "files": report.ingested, "tokens": report.tokens, "facts": len(facts)}
    return cells, info


def format_table(cells: list[CodeCell]) -> str:
    rows = ["| question | phrasing | n | docqa exact | knockout | FTS5 top-1 | memory gain, nats/token | example (truth -> docqa) |",
            "|---|---|---|---|---|---|---|---|"]
    for c in cells:
        ex = f"{c.examples[0][0]} {c.examples[0][1]!r} -> {c.examples[0][2]!r}" if c.examples else ""
        rows.append(f"| {c.kind} | {c.split} | {c.n} | {c.exact:.2f} | {c.knockout:.2f} | {c.fts:.2f} | {c.gain:.2f} | {ex} |")
    return "\n".join(rows)


def to_json(cells: list[CodeCell]) -> list[dict]:
    return [asdict(c) for c in cells]
