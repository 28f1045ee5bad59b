"""Where a needle's value wears as the stream behind it grows: each answer token's log-probability, token by
token, with every layer's memory and with one layer's knocked out.

    python benchmarks/bench_wear.py --model DIR --haystack runs/eval/prose [--lengths 4096,16384,65536] [--n 20]

A needle trial of `docqa bench recall --haystack` at the start of the longest length (the same trials:
`docqa.bench.haystack.cell_trial`) is streamed once; the memory is copied after each length, so every row
holds one needle with more text written after it. At each copy the answer is teacher-forced after its
question (`docqa.attribution.answer_logprobs`, what attribution's score sums) and each token's
log-probability kept. The bare ' ' that opens a number's answer is left out (it is the same for every
number; `benchmarks/miss_kinds.py` does the same).
"first" is the value's first token, the one the question's query addresses; "later" every token after it,
each read with the value so far. "right" is the share of tokens that are the argmax given the true tokens
before them. Rows with a layer knocked out (its M and z zeroed) say which layer's memory carries which.
Written for the thirty-eighth session: at 64K tokens a seen needle's miss is as often its first token right
and the rest wrong as anything else (docs/TRAINING.md).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import torch

from docqa.attribution import answer_logprobs
from docqa.bench.haystack import Haystack, cell_trial
from docqa.memory import Memory
from docqa.model.io import load_model
from docqa.prompt import question_tokens


class TokenScores(NamedTuple):
    logp: list[float]  # each scored answer token's log-probability (nats)
    right: list[bool]  # each is the argmax after the true tokens before it


def value_tokens(tok, answer: str) -> tuple[list[int], int]:
    """The answer's tokens as answering produces them, and the index of the value's first token: the first
    that is not whitespace alone."""
    ids = tok.encode(tok.answer_prefix + answer)
    first = next((i for i, t in enumerate(ids) if tok.decode([t]).strip()), 0)
    return ids, first


def token_scores(lm, memory: Memory, prompt: list[int], answer: list[int], first: int) -> TokenScores:
    """The answer's tokens from `first` on, teacher-forced after `prompt` from `memory` (not modified)."""
    logp = answer_logprobs(lm, memory, prompt, answer)
    target = torch.tensor(answer)
    got = logp.gather(-1, target[:, None])[:, 0]
    right = logp.argmax(-1) == target
    return TokenScores(got[first:].tolist(), right[first:].tolist())


def wear(lm, hay: Haystack, lengths: list[int], split: str, n: int, seed: int = 0) -> dict:
    """{(length, knocked layer or None): [TokenScores per trial]} for n needle trials at the start of
    max(lengths), the memory copied after each of `lengths` tokens."""
    tok, S = lm.tokenizer, lm.config.segment_len
    top = max(lengths)
    out: dict = {}
    for i in range(n):
        stream, question, answer, _, _ = cell_trial(tok, hay, "needle", split, top, "start", seed, i, S)
        prompt = question_tokens(tok, question)
        ids, first = value_tokens(tok, answer)
        memory, done = lm.model.new_memory(1), 0
        for length in sorted(lengths):
            memory = lm.model.ingest(torch.tensor([stream[done:length]]), memory)
            done = length
            for layer in [None, *range(lm.config.n_layer)]:
                scores = token_scores(lm, memory.knocked_out(layer), prompt, ids, first)
                out.setdefault((length, layer), []).append(scores)
    return out


def table(rows: dict) -> str:
    lines = ["| length | memory | first: log p | first right | later: log p | later right | all right |",
             "|---|---|---|---|---|---|---|"]
    def order(key):  # by length, all layers first, then each knocked-out layer
        return key[0], -1 if key[1] is None else key[1]

    for (length, layer), trials in sorted(rows.items(), key=lambda kv: order(kv[0])):
        first = [t.logp[0] for t in trials]
        later = [p for t in trials for p in t.logp[1:]]
        later_right = [r for t in trials for r in t.right[1:]]
        label = "all layers" if layer is None else f"layer {layer} knocked out"
        lines.append(f"| {length} | {label} | {sum(first) / len(first):.2f} | "
                     f"{sum(t.right[0] for t in trials) / len(trials):.2f} | "
                     f"{sum(later) / max(1, len(later)):.2f} | {sum(later_right) / max(1, len(later_right)):.2f} | "
                     f"{sum(all(t.right) for t in trials) / len(trials):.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--haystack", required=True)
    ap.add_argument("--lengths", default="4096,16384,65536")
    ap.add_argument("--split", default="train", choices=["train", "heldout"])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    rows = wear(lm, Haystack(lm, [args.haystack]), [int(x) for x in args.lengths.split(",")], args.split, args.n,
                args.seed)
    print(f"{args.model}, {args.split} phrasings, needle at the start, n {args.n}, seed {args.seed}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
