"""Can docqa tell a recalled answer from a guess? The memory's gain on its own answer, per trial.

    python benchmarks/bench_abstain.py --haystack runs/eval/prose [--model DIR] [--lengths 4096,16384]
        [--n 20] [--seed 1] [--facts 8] [--track] [--json OUT]

A wrong answer of a compressive-memory model is most often a guess from its weights: a value it
has learned to give for that kind of question ('LM-4209' for a pass key, 'lynx' for a port
number), or another fact's value. `docqa ask --sources` already calls an answer with no source
when the corpus makes it no likelier than an empty memory does (docqa.attribution: gain <=
MIN_GAIN * SEARCH_SHARE nats). This bench asks how well that gain, taken on the model's own
answer, tells right answers from wrong ones, so docqa could say "not found" instead of guessing.

Per trial of the recall bench's cells (docqa.bench.haystack: the same streams, questions and
answers), it takes docqa's greedy answer and its gain: log p(answer | memory) - log p(answer |
empty memory), teacher-forced with <|end|> (docqa.attribution.score), in nats. Printed per split
(seen / held-out phrasings) and for each threshold t: the share of trials answered (gain > t),
how many of those are right (precision), and how many of the right ones were kept. A row for
t = -inf is the model as it answers today. A diagnostic of a signal, not a recall claim: the
thresholds are read off the same trials.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from docqa.attribution import MIN_GAIN, SEARCH_SHARE, score
from docqa.bench.haystack import Haystack, cell_trial, greedy_answer
from docqa.model.io import load_model
from docqa.prompt import answer_tokens, question_tokens
from docqa.threads import set_threads

THRESHOLDS = [-math.inf, 0.0, 1.0, 2.0, MIN_GAIN * SEARCH_SHARE, 6.0, 8.0, 12.0]


@torch.no_grad()
def trials(lm, hay, task: str, split: str, length: int, depth: str, n: int, seed: int,
           batch: int = 8) -> list[dict]:
    tok = lm.tokenizer
    cell = [cell_trial(tok, hay, task, split, length, depth, seed, i, lm.config.segment_len) for i in range(n)]
    out = []
    for b in range(0, n, batch):  # streams ingested together, as the recall bench's run_cell does
        group = cell[b:b + batch]
        memories = lm.model.ingest(torch.tensor([t[0] for t in group]), lm.model.new_memory(len(group)))
        for j, (_, question, answer, _, _) in enumerate(group):
            memory = memories.select(j)
            got = greedy_answer(lm, question, answer, memory)
            prompt, ans = question_tokens(tok, question), answer_tokens(tok, got)
            gain = score(lm, memory, prompt, ans) - score(lm, memory.clone().zero_(), prompt, ans)
            out.append({"task": task, "split": split, "length": length, "depth": depth, "question": question,
                        "answer": answer, "got": got, "right": got == answer, "gain": gain})
    return out


def table(rows: list[dict]) -> str:
    lines = ["| split | threshold (nats) | answered | right of answered | right kept | wrong kept |",
             "|---|---|---|---|---|---|"]
    for split in ("train", "heldout"):
        part = [r for r in rows if r["split"] == split]
        if not part:
            continue
        right = sum(r["right"] for r in part)
        wrong = len(part) - right
        for t in THRESHOLDS:
            kept = [r for r in part if r["gain"] > t]
            k_right = sum(r["right"] for r in kept)
            prec = f"{k_right / len(kept):.2f}" if kept else "-"
            lines.append(f"| {split} | {t:g} | {len(kept)} / {len(part)} | {prec} | {k_right} / {right} | "
                         f"{len(kept) - k_right} / {wrong} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--haystack", required=True, help="folder of text never trained on")
    ap.add_argument("--lengths", default="4096,16384")
    ap.add_argument("--depths", default="start,middle,end")
    ap.add_argument("--n", type=int, default=20, help="trials per cell")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--facts", type=int, default=0, help="also K named facts at --facts-length (0: none)")
    ap.add_argument("--facts-length", type=int, default=8192)
    ap.add_argument("--track", action="store_true", help="also entity tracking at --facts-length")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", dest="json_out", default=None, help="write every trial here")
    args = ap.parse_args()
    set_threads(args.threads)
    lm = load_model(args.model)
    hay = Haystack(lm, [args.haystack])
    plan = [("needle", s, int(L), d) for L in args.lengths.split(",") if L for d in args.depths.split(",")
            for s in ("train", "heldout")]
    plan += [(f"facts={args.facts}", s, args.facts_length, "spread") for s in ("train", "heldout")] if args.facts else []
    plan += [("track", s, args.facts_length, "spread") for s in ("train", "heldout")] if args.track else []
    rows = []
    for cell in plan:
        rows += trials(lm, hay, *cell, args.n, args.seed)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"model": lm.name, "fingerprint": lm.fingerprint,
                                                   "seed": args.seed, "trials": rows}, indent=1))
    for task in dict.fromkeys(r["task"] for r in rows):
        print(f"\n{task} ({lm.name}, seed {args.seed})\n")
        print(table([r for r in rows if r["task"] == task]))


if __name__ == "__main__":
    main()
