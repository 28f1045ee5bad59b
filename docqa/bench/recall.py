"""Recall benchmark: passkey exact-match by context length and needle depth, with a knockout.

For every cell the haystack is streamed into memory once; the question is then answered twice,
from the memory as it is and from the memory zeroed (knockout). The needle always ends before
the question's segment, so an answer can only come through the memory. Fixed seeds throughout.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import torch

from docqa.model.base import LoadedModel, generate
from docqa.train.tasks import Filler, build_doc, kv_facts, passkey_facts

DEPTHS = {"start": 0.0, "middle": 0.5, "end": 1.0}


@dataclass
class Cell:
    task: str
    length: int
    depth: str
    n: int
    exact: float  # exact-match of the whole answer
    digits: float  # fraction of answer characters right, position by position
    knockout_exact: float
    knockout_digits: float


def _answer(lm: LoadedModel, prompt: list[int], memory, max_new: int) -> str:
    end = lm.tokenizer.special_tokens["<|end|>"]
    return lm.tokenizer.decode(list(generate(lm.model, prompt, memory, max_new, stop_ids=[end]))).strip()


def _score(answer: str, truth: str) -> tuple[float, float]:
    same = sum(a == b for a, b in zip(answer, truth)) / len(truth)
    return float(answer == truth), same


@torch.no_grad()
def run_cell(lm: LoadedModel, task: str, length: int, depth: float, n: int, seed: int,
             n_facts: int = 1, filler: Filler | None = None, batch: int = 8) -> dict:
    tok, S = lm.tokenizer, lm.config.segment_len
    filler = filler or Filler(tok)
    docs = []
    for i in range(n):
        rng = random.Random(f"{seed}:{task}:{length}:{depth}:{n_facts}:{i}")
        facts = passkey_facts(rng) if task == "passkey" else kv_facts(rng, n_facts, varied=False)
        depths = [depth] if task == "passkey" else None
        docs.append(build_doc(tok, rng, filler, length, S, facts, ask=rng.randrange(len(facts)), depths=depths))
    scores = {"exact": [], "digits": [], "knockout_exact": [], "knockout_digits": []}
    device = lm.model.device
    by_length: dict[int, list] = {}
    for d in docs:  # streams of one length are ingested together as a batch
        by_length.setdefault(d.question_start, []).append(d)
    groups = [g[i:i + batch] for g in by_length.values() for i in range(0, len(g), batch)]
    for group in groups:
        stream = torch.tensor([d.tokens[:d.question_start] for d in group], device=device)
        memory = lm.model.ingest(stream, lm.model.new_memory(len(group)))
        for j, d in enumerate(group):
            prompt = d.tokens[d.question_start:d.answer_start]
            mem = memory.select(j)
            e, g = _score(_answer(lm, prompt, mem, len(d.answer) + 2), d.answer)
            ke, kg = _score(_answer(lm, prompt, mem.zero_(), len(d.answer) + 2), d.answer)
            for k, v in zip(scores, (e, g, ke, kg)):
                scores[k].append(v)
    return {k: sum(v) / len(v) for k, v in scores.items()}


def passkey_table(lm: LoadedModel, lengths: list[int], depths: list[str], n: int, seed: int = 0,
                  on_cell=None) -> list[Cell]:
    cells = []
    for length in lengths:
        for name in depths:
            r = run_cell(lm, "passkey", length, DEPTHS[name], n, seed)
            cells.append(Cell("passkey", length, name, n, **r))
            if on_cell:
                on_cell(cells[-1])
    return cells


def facts_curve(lm: LoadedModel, counts: list[int], length: int, n: int, seed: int = 0,
                on_cell=None) -> list[Cell]:
    cells = []
    for k in counts:
        r = run_cell(lm, "facts", length, 0.0, n, seed, n_facts=k)
        cells.append(Cell(f"facts={k}", length, "spread", n, **r))
        if on_cell:
            on_cell(cells[-1])
    return cells


def format_table(cells: list[Cell]) -> str:
    rows = ["| task | length | depth | n | exact | digits | knockout exact | knockout digits |",
            "|---|---|---|---|---|---|---|---|"]
    for c in cells:
        rows.append(f"| {c.task} | {c.length} | {c.depth} | {c.n} | {c.exact:.2f} | {c.digits:.2f} "
                    f"| {c.knockout_exact:.2f} | {c.knockout_digits:.2f} |")
    return "\n".join(rows)


def to_json(cells: list[Cell]) -> list[dict]:
    return [asdict(c) for c in cells]
