"""Does a needle survive the text streamed after it? Write strengths at the needle against the
text around it, and the answer's loss by stream length.

    python benchmarks/bench_write_budget.py --model docqa/models/default --haystack runs/eval/prose
    python benchmarks/bench_write_budget.py --haystack runs/eval/prose --threshold 0.6   # a probe
    python benchmarks/bench_write_budget.py --haystack runs/eval/prose --threshold 0.4 --window 4

Under the token-level delta rule with unit keys, a fact written T tokens back keeps about
exp(-sum beta / d_head) of itself, the sum over the writes since (docs/TRAINING.md, December,
sixth session). Two tables over streams of real text with one needle (training phrasings, or
`--split heldout`):

- per layer and head, the write strength beta at the needle's tokens (mean and max) and at the
  text's (mean, 99th percentile), and the text's sum beta / d_head extrapolated to 64K tokens;
- the teacher-forced loss (mean NLL per token) and token accuracy of the answer after streams of
  each length with the needle at the start, and the same over a zeroed memory (knockout).
  Exact-match counts are coarse at n 10; the loss shows a needle fading before it is lost.

`--threshold` runs the same weights with ModelConfig.write_threshold set (and `--window`,
write_window): an inference probe of what a trained threshold could give. The write table shows
the gated strengths. A diagnostic of the mechanism, not a recall claim.
"""

from __future__ import annotations

import argparse
import random

import torch
import torch.nn.functional as F

from docqa.bench.haystack import Haystack, hide
from docqa.model.base import LoadedModel
from docqa.model.center import memory_projections
from docqa.model.io import load_model, with_gate
from docqa.prompt import answer_tokens, question_tokens
from docqa.train.tasks import needle_facts


def with_threshold(lm: LoadedModel, threshold: float, window: int = 0) -> LoadedModel:
    """The same weights under ModelConfig.write_threshold = threshold, write_window = window."""
    return with_gate(lm, write_threshold=threshold, write_window=window)


def needle_stream(lm: LoadedModel, hay: Haystack, rng: random.Random, length: int, depth: float,
                  split: str = "train"):
    """(tokens, needle span (start, end), question, answer): one needle, phrased from `split`
    ("train": the training phrasings; "heldout": those never trained on)."""
    tok, S = lm.tokenizer, lm.config.segment_len
    facts = needle_facts(rng, split)
    stream = hide(tok, hay.window(rng, length), facts, [depth], length // S * S)
    needle = tok.encode(facts[0][0])
    start = next(p for p in range(len(stream)) if stream[p:p + len(needle)] == needle)
    question, answer = facts[0][1]
    return stream, (start, start + len(needle)), question, answer


@torch.no_grad()
def answer_loss(lm: LoadedModel, memory, question: str, answer: str) -> tuple[float, float]:
    """Mean NLL per token and token accuracy of the answer, teacher-forced after the question."""
    prompt, ans = question_tokens(lm.tokenizer, question), answer_tokens(lm.tokenizer, answer)
    logits, _ = lm.model(torch.tensor([prompt + ans], device=lm.model.device), memory)
    pred = logits[0, len(prompt) - 1:-1].float()  # the logits at t predict token t + 1
    target = torch.tensor(ans, device=pred.device)
    return float(F.cross_entropy(pred, target)), float((pred.argmax(-1) == target).float().mean())


@torch.no_grad()
def write_rows(lm: LoadedModel, streams: list[tuple[list[int], tuple[int, int]]]) -> list[dict[str, float]]:
    """One row per (layer, head), layer-major: beta at the needle and in the text, averaged over streams."""
    acc: dict[tuple[int, int], list[list[float]]] = {}
    for tokens, (a, b) in streams:
        needle = torch.zeros(len(tokens), dtype=torch.bool)
        needle[a:b] = True
        for layer, (_q, _k, beta) in enumerate(memory_projections(lm.model, torch.tensor([tokens]))):
            for h in range(beta.shape[1]):
                bh = beta[0, h].double()
                acc.setdefault((layer, h), []).append(
                    [bh[needle].mean(), bh[needle].max(), bh[~needle].mean(), torch.quantile(bh[~needle], 0.99)])
    D = lm.config.d_head
    rows = []
    for (layer, h), vals in acc.items():
        m = torch.tensor(vals).mean(0).tolist()
        rows.append({"layer": layer, "head": h, "needle_mean": m[0], "needle_max": m[1], "text_mean": m[2],
                     "text_p99": m[3], "text_sum_64k": m[2] * 65536 / D})
    return rows


@torch.no_grad()
def loss_rows(lm: LoadedModel, hay: Haystack, lengths: list[int], n: int, seed: int,
              split: str = "train") -> list[dict[str, float]]:
    rows = []
    for length in lengths:
        trials = [needle_stream(lm, hay, random.Random(f"{seed}:budget:{i}"), length, 0.0, split) for i in range(n)]
        memory = lm.model.ingest(torch.tensor([t[0] for t in trials], device=lm.model.device), lm.model.new_memory(n))
        kept = [answer_loss(lm, memory.select(j), q, a) for j, (_, _, q, a) in enumerate(trials)]
        knocked = [answer_loss(lm, memory.select(j).zero_(), q, a) for j, (_, _, q, a) in enumerate(trials)]
        rows.append({"tokens": length, "nll": sum(k[0] for k in kept) / n, "acc": sum(k[1] for k in kept) / n,
                     "knockout_nll": sum(k[0] for k in knocked) / n})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--haystack", action="append", required=True, help="folder or file of real text")
    ap.add_argument("--lengths", default="1024,4096,16384,65536")
    ap.add_argument("--write-tokens", type=int, default=4096, help="stream length of the write table")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--threshold", type=float, default=None, help="run with this write_threshold (probe)")
    ap.add_argument("--window", type=int, default=0, help="with --threshold: this write_window (probe)")
    ap.add_argument("--split", default="train", choices=["train", "heldout"], help="the needles' phrasings")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    if not lm.config.write_strength:
        raise SystemExit(f"{lm.name} has no write strength (write_strength=False): nothing to measure")
    if args.window and args.threshold is None:
        raise SystemExit("--window widens what --threshold keeps; give --threshold too")
    if args.threshold is not None:
        lm = with_threshold(lm, args.threshold, args.window)
    hay = Haystack(lm, args.haystack)
    print(f"model {lm.name}, write_threshold {lm.config.write_threshold}, write_window {lm.config.write_window}, d_head {lm.config.d_head}, "
          f"{args.split} phrasings, n {args.n}, seed {args.seed}\n")
    streams = [needle_stream(lm, hay, random.Random(f"{args.seed}:writes:{i}"), args.write_tokens, 0.5, args.split)[:2]
               for i in range(args.n)]
    print(f"write strength, one needle mid-stream in {args.write_tokens:,} tokens:\n")
    print("| layer.head | needle mean | needle max | text mean | text p99 | text sum beta / D per 64K |")
    print("|---|---|---|---|---|---|")
    for r in write_rows(lm, streams):
        print(f"| {r['layer']}.{r['head']} | {r['needle_mean']:.4f} | {r['needle_max']:.3f} | {r['text_mean']:.4f} | "
              f"{r['text_p99']:.4f} | {r['text_sum_64k']:.2f} |")
    print("\nanswer after the stream, needle at the start (teacher-forced):\n")
    print("| tokens | NLL | token acc | knockout NLL |\n|---|---|---|---|")
    for r in loss_rows(lm, hay, [int(x) for x in args.lengths.split(",")], args.n, args.seed, args.split):
        print(f"| {r['tokens']:,} | {r['nll']:.3f} | {r['acc']:.2f} | {r['knockout_nll']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
