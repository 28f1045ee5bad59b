"""Probe: contrast decoding on the answer's first tokens only, the rest decoded plainly.

    python benchmarks/probe_first_token_contrast.py MODEL_DIR --haystack runs/eval/prose OUT.json
        [--tokens 1] [--plausible 0.02] [--alpha 1.0] [--facts 0]

Why: the default's held-out misses "Give the {s}." answer '0' or '0x'. Its first answer token there is
a bare ' ' (the opening of a digit answer) at p 0.7-0.9, with or without the memory, while the
value's own first token gets 0.02-0.08 with the memory and almost nothing without it. Contrast as
`generate(contrast=a)` applies it (PLAUSIBLE 0.1) cannot pick a token under a tenth of the top one,
and over every token it made words up in the past (docs/TRAINING.md, twentieth session). This
decodes the first `--tokens` answer tokens from (1 + a) log p(y | memory) - a log p(y | memory
knocked out) among tokens with at least `--plausible` of the memory's top probability, and the rest
plainly, on `docqa bench recall --haystack`'s own trials (haystack.cell_trial, seed 0), so its JSON
compares with a plain run trial by trial (knockout and FTS5 are not run: NaN). A probe, not a feature.
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from docqa.bench.haystack import HayCell, Haystack, cell_trial, to_json
from docqa.model.base import answer_stops, question_memory
from docqa.model.io import load_model
from docqa.prompt import question_tokens


@torch.no_grad()
def answer(lm, question: str, max_new: int, memory, n_tokens: int, plausible: float, alpha: float) -> str:
    """Greedy answer to `question` from `memory`, the first n_tokens contrasted with the knockout."""
    model, tok = lm.model, lm.tokenizer
    prompt = question_tokens(tok, question)
    plain = model.decoder(question_memory(model, memory, len(prompt)))
    prior = model.decoder(question_memory(model, memory.clone().zero_(), len(prompt)))
    stops, out = set(answer_stops(tok)), []
    logits, prior_logits = plain.feed(torch.tensor([prompt])), prior.feed(torch.tensor([prompt]))
    for i in range(max_new):
        if i < n_tokens:
            m, p = torch.log_softmax(logits.float(), -1), torch.log_softmax(prior_logits.float(), -1)
            bad = m < m.max(-1, keepdim=True).values + math.log(plausible)
            t = int(((1 + alpha) * m - alpha * p).masked_fill(bad, float("-inf"))[0].argmax())
        else:
            t = int(logits[0].argmax())
        if t in stops:
            break
        out.append(t)
        logits = plain.feed(torch.tensor([[t]]))
        if i + 1 < n_tokens:
            prior_logits = prior.feed(torch.tensor([[t]]))
    return tok.decode(out).strip()


@torch.no_grad()
def cell(lm, hay: Haystack, task: str, split: str, length: int, depth: str, n: int, a) -> HayCell:
    """One cell of `docqa bench recall --haystack` (haystack.cell_trial, seed 0), decoded as above."""
    tok = lm.tokenizer
    right, misses = 0, []
    for i in range(n):
        stream, question, expect, statement, _ = cell_trial(tok, hay, task, split, length, depth, 0, i,
                                                            lm.config.segment_len)
        memory = lm.model.ingest(torch.tensor([stream]), lm.model.new_memory(1))
        got = answer(lm, question, len(tok.encode(tok.answer_prefix + expect)) + 4, memory, a.tokens, a.plausible, a.alpha)
        right += got == expect
        if got != expect:
            misses.append({"statement": statement, "question": question, "answer": expect, "got": got})
    return HayCell(task, split, length, depth, n, right / n, float("nan"), float("nan"), misses)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--haystack", required=True)
    ap.add_argument("--tokens", type=int, default=1)
    ap.add_argument("--plausible", type=float, default=0.02)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--facts", type=int, default=0, help="K named facts at 8K tokens (n 60) in place of the needles")
    a = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(a.model)
    hay = Haystack(lm, [a.haystack])
    if a.facts:
        plan = [(f"facts={a.facts}", s, 8192, "spread", 60) for s in ("train", "heldout")]
    else:
        plan = [("needle", s, L, d, 20) for L in (4096, 8192, 16384) for d in ("start", "middle", "end")
                for s in ("train", "heldout")]
    cells = [cell(lm, hay, *p, a) for p in plan]
    with open(a.out, "w") as f:
        json.dump({"model": lm.name, "fingerprint": lm.fingerprint, "haystack": [a.haystack],
                   "haystack_tokens": len(hay.tokens), "seed": 0,
                   "contrast": f"first {a.tokens} tokens, alpha {a.alpha}, plausible {a.plausible}",
                   "cells": to_json(cells)}, f, indent=1)
    for c in cells:
        print(f"{c.task} {c.split} {c.length} {c.depth}: exact {c.exact:.2f}")


if __name__ == "__main__":
    main()
