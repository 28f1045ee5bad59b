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
plainly, through `docqa bench recall --haystack`'s own cells (same trials, same seed 0), so its JSON
compares with a plain run trial by trial. A probe, not a feature: it swaps model.base.generate.
"""

from __future__ import annotations

import argparse
import json
import math

import torch

import docqa.model.base as base
from docqa.bench.haystack import Haystack, haystack_bench, to_json
from docqa.model.io import load_model


def first_token_contrast(n_tokens: int, plausible: float, alpha: float):
    """A stand-in for model.base.generate (greedy only) that contrasts the first n_tokens."""

    def generate(model, prompt, memory, max_new_tokens, temperature=0.0, top_k=None, stop_ids=(), generator=None,
                 use_memory=True, reserve=base.ANSWER_RESERVE, contrast=0.0):
        prompt = torch.tensor([list(prompt)], dtype=torch.long, device=model.device)
        plain = model.decoder(base.question_memory(model, memory, prompt.shape[1], reserve, use_memory), use_memory)
        prior = None
        if contrast and use_memory:  # the bench's knockout calls come with contrast 0: plain
            prior = model.decoder(base.question_memory(model, memory.clone().zero_(), prompt.shape[1], reserve))
        logits = plain.feed(prompt)
        prior_logits = prior.feed(prompt) if prior else None
        for i in range(max_new_tokens):
            if prior_logits is not None and i < n_tokens:
                m, p = torch.log_softmax(logits.float(), -1), torch.log_softmax(prior_logits.float(), -1)
                bad = m < m.max(-1, keepdim=True).values + math.log(plausible)
                tok = int(((1 + alpha) * m - alpha * p).masked_fill(bad, float("-inf"))[0].argmax())
            else:
                tok = int(logits[0].argmax())
            if tok in set(stop_ids):
                return
            yield tok
            nxt = torch.tensor([[tok]], device=model.device)
            logits = plain.feed(nxt)
            prior_logits = prior.feed(nxt) if prior and i + 1 < n_tokens else None

    return generate


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
    base.generate = first_token_contrast(a.tokens, a.plausible, a.alpha)
    lm = load_model(a.model)
    hay = Haystack(lm, [a.haystack])
    if a.facts:
        cells = haystack_bench(lm, hay, [], [], [a.facts], 8192, ["train", "heldout"], 60, 0, False, contrast=1.0)
    else:
        cells = haystack_bench(lm, hay, [4096, 8192, 16384], ["start", "middle", "end"], [], 0,
                               ["train", "heldout"], 20, 0, False, contrast=1.0)
    with open(a.out, "w") as f:
        json.dump({"model": lm.name, "fingerprint": lm.fingerprint, "haystack": [a.haystack],
                   "haystack_tokens": len(hay.tokens), "seed": 0,
                   "contrast": f"first {a.tokens} tokens, alpha {a.alpha}, plausible {a.plausible}",
                   "cells": to_json(cells)}, f, indent=1)
    for c in cells:
        print(f"{c.task} {c.split} {c.length} {c.depth}: exact {c.exact:.2f}")


if __name__ == "__main__":
    main()
