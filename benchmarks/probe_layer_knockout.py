"""Which layer's memory a haystack task's answers come from: the bench's own trials answered with every
layer's memory, then with one layer's memory zeroed at the question.

    python benchmarks/probe_layer_knockout.py --model DIR --haystack runs/eval/prose --task track [--length 8192]
        [--split train] [--n 20] [--seed 0] [--depth spread]

`--task` is a haystack task as `docqa bench recall` names it (needle, facts=K, track); the trials are the
bench's (`docqa.bench.haystack.cell_trial`), so the "every layer" row is that cell's exact column. "lost"
counts the trials right with every layer and wrong with that layer zeroed: the answers that layer's memory
carries. Written for the thirty-ninth session: silencing layer 0's memory (a124-a127) doubled 64K needles
and cost entity tracking, and this says whether tracking was layer 0's to begin with.
"""

from __future__ import annotations

import argparse
import json

import torch

from docqa.bench.haystack import Haystack, cell_trial, greedy_answer
from docqa.model.io import load_model


@torch.no_grad()
def knockout_answers(lm, hay: Haystack, task: str, split: str, length: int, depth: str, n: int,
                     seed: int) -> list[dict]:
    """Per trial: the answer, and what greedy decoding gives with every layer (key None) and with each layer
    zeroed (key = the layer)."""
    tok, S = lm.tokenizer, lm.config.segment_len
    out = []
    for i in range(n):
        stream, question, answer, _, _ = cell_trial(tok, hay, task, split, length, depth, seed, i, S)
        memory = lm.model.ingest(torch.tensor([stream], device=lm.model.device), lm.model.new_memory(1))
        got = {layer: greedy_answer(lm, question, answer, memory.knocked_out(layer))
               for layer in [None, *range(lm.config.n_layer)]}
        out.append({"answer": answer, "got": got})
    return out


def summary(trials: list[dict], n_layer: int) -> list[tuple[str, float, int]]:
    """(condition, exact, lost) per row: every layer, then each layer zeroed; lost = right with every layer,
    wrong with that one zeroed."""
    right = [t["got"][None] == t["answer"] for t in trials]
    rows = [("every layer", sum(right) / len(trials), 0)]
    for layer in range(n_layer):
        ok = [t["got"][layer] == t["answer"] for t in trials]
        rows.append((f"layer {layer} zeroed", sum(ok) / len(trials), sum(r and not o for r, o in zip(right, ok))))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--haystack", required=True)
    ap.add_argument("--task", default="track", help="needle, facts=K or track")
    ap.add_argument("--length", type=int, default=8192)
    ap.add_argument("--depth", default="spread", help="start, middle or end for needles; spread for the rest")
    ap.add_argument("--split", default="train", choices=["train", "heldout"])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    lm = load_model(a.model)
    trials = knockout_answers(lm, Haystack(lm, [a.haystack]), a.task, a.split, a.length, a.depth, a.n, a.seed)
    rows = summary(trials, lm.config.n_layer)
    if a.json:
        print(json.dumps({"model": lm.name, "task": a.task, "split": a.split, "length": a.length, "n": a.n,
                          "seed": a.seed, "rows": [dict(zip(("memory", "exact", "lost"), r)) for r in rows],
                          "trials": [{"answer": t["answer"], "got": {str(k): v for k, v in t["got"].items()}}
                                     for t in trials]}, indent=1))
        return
    print(f"model {lm.name}, {a.task} at {a.length} tokens, {a.split} phrasings, n {a.n}, seed {a.seed}\n")
    print("| memory | exact | lost (right with every layer, wrong here) |\n|---|---|---|")
    for name, exact, lost in rows:
        print(f"| {name} | {exact:.2f} | {lost} |")


if __name__ == "__main__":
    main()
