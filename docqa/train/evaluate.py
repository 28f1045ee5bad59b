"""Recall on the training tasks: the question answered from the memory, and again from the memory
zeroed (knockout), exact match and characters right. What training watches (`loop.quick_eval`)
and what `docqa bench recall` tabulates (docqa.bench.recall) are this one measurement.

Each document's haystack is streamed into memory once; the needle always ends before the
question's segment, so an answer can only come through the memory. Fixed seeds throughout.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from docqa.model.base import LoadedModel, greedy_text
from docqa.train.tasks import Filler, build_doc, kv_facts, passkey_facts


def _score(answer: str, truth: str) -> tuple[float, float]:
    same = sum(a == b for a, b in zip(answer, truth)) / len(truth)
    return float(answer == truth), same


def cell_doc(tok, filler: Filler, segment_len: int, task: str, length: int, depth: float, seed: int, i: int,
             n_facts: int = 1):
    """Document i of a cell (a TaskDoc): its own generator, so a trial depends only on its name."""
    rng = random.Random(f"{seed}:{task}:{length}:{depth}:{n_facts}:{i}")
    facts = passkey_facts(rng) if task == "passkey" else kv_facts(rng, n_facts, varied=False)
    depths = [depth] if task == "passkey" else None
    return build_doc(tok, rng, filler, length, segment_len, facts, ask=rng.randrange(len(facts)), depths=depths)


@torch.no_grad()
def run_cell(lm: LoadedModel, task: str, length: int, depth: float, n: int, seed: int,
             n_facts: int = 1, filler: Filler | None = None, batch: int = 8, contrast: float = 0.0) -> dict:
    tok, S = lm.tokenizer, lm.config.segment_len
    filler = filler or Filler(tok)
    docs = [cell_doc(tok, filler, S, task, length, depth, seed, i, n_facts) for i in range(n)]
    scores = {"exact": [], "digits": [], "knockout_exact": [], "knockout_digits": []}
    misses = []  # what came back where the memory's answer was wrong, trial by trial
    device = lm.model.device
    by_length: dict[int, list] = {}
    for i, d in enumerate(docs):  # streams of one length are ingested together as a batch
        by_length.setdefault(d.question_start, []).append((i, d))
    groups = [g[i:i + batch] for g in by_length.values() for i in range(0, len(g), batch)]
    for group in groups:
        stream = torch.tensor([d.tokens[:d.question_start] for _, d in group], device=device)
        memory = lm.model.ingest(stream, lm.model.new_memory(len(group)))
        for j, (i, d) in enumerate(group):
            prompt = d.tokens[d.question_start:d.answer_start]
            mem = memory.select(j)
            got = greedy_text(lm, prompt, mem, len(d.answer) + 2, contrast)
            e, g = _score(got, d.answer)
            if not e:
                misses.append({"trial": i, "answer": d.answer, "got": got})
            # knocked out, contrast has no memory to weigh against the prior: plain decoding, one pass
            ke, kg = _score(greedy_text(lm, prompt, mem.zero_(), len(d.answer) + 2), d.answer)
            for k, v in zip(scores, (e, g, ke, kg)):
                scores[k].append(v)
    return {**{k: sum(v) / len(v) for k, v in scores.items()}, "misses": sorted(misses, key=lambda m: m["trial"])}


@torch.no_grad()
def in_segment_loss(model, tokens: torch.Tensor, use_memory: bool = True, chunk_segments: int = 16) -> float:
    """Mean next-token loss over one stream of tokens (1-D), read segment by segment with the
    memory carried along (or off); only predictions inside a segment count, so the memory off
    scores exactly the base checkpoint reading each segment on its own."""
    S = model.segment_len
    n = tokens.numel() // S * S
    memory, total, count = model.new_memory(1), 0.0, 0
    for i in range(0, n, chunk_segments * S):
        x = tokens[i:min(n, i + chunk_segments * S)].long().to(model.device)[None]  # (1, T), whole segments
        h, memory = model.hidden(x, memory, use_memory)
        logits = model.logits(h[0].unflatten(0, (-1, S))[:, :-1]).float()  # (N, S-1, V)
        target = x[0].unflatten(0, (-1, S))[:, 1:]
        total += float(F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="sum"))
        count += target.numel()
    return total / count
