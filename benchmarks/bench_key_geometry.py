"""How spread out are the keys each memory head writes, and the queries it reads with?

    python benchmarks/bench_key_geometry.py --model docqa/models/default --haystack runs/eval/prose

The delta rule tells facts apart by their keys: with unit keys (l2 feature map) two facts whose
keys share most of their direction overwrite one another, and storing distinct values under
near-parallel keys needs a large M (bench_memory_norm.py), which a query picks up wherever it
does not match a key exactly. Per layer and head, over one stream of `--tokens` tokens:

- |mean|: the length of the mean unit key (1: every key the same; ~0: no shared direction);
- cos: the mean cosine between two different keys of the stream;
- PR: the participation ratio of the keys' second moment, (sum of eigenvalues)^2 / sum of
  their squares, the effective number of directions the keys use (at most d_head);
- the same |mean| and PR for the queries, the mean write strength beta, and sigmoid(gate),
  the share of the memory in the head's output (eq. 10).

A diagnostic of the mechanism, not a recall claim: docs/TRAINING.md, December, sixth session.
"""

from __future__ import annotations

import argparse
import random

import torch

from docqa.bench.haystack import Haystack
from docqa.model.center import memory_projections
from docqa.model.infini import feature_map
from docqa.model.io import load_model
from docqa.train.tasks import SIMPLE_FILLER


def spread(units: torch.Tensor) -> dict[str, float]:
    """units (N, D) unit vectors, N >= 2 -> |mean|, mean pairwise cosine (i != j), participation ratio."""
    N = units.shape[0]
    total = units.sum(0)
    ev = torch.linalg.eigvalsh(units.T @ units / N)
    return {"mean": float(total.norm() / N),
            "cos": float((total @ total - (units * units).sum()) / (N * (N - 1))),
            "pr": float(ev.sum() ** 2 / (ev ** 2).sum())}


@torch.no_grad()
def key_geometry(model, tokens: list[int]) -> list[dict[str, float]]:
    """One row per (layer, head), layer-major: the memory's keys and queries over one stream,
    as eq. 7-9 see them (after the feature map, centres and memory_qk included)."""
    rows = []
    for block, (q, k, beta) in zip(model.blocks, memory_projections(model, torch.tensor([tokens]))):
        attn = block.attn  # q, k (1, H, T, D), beta (1, H, T)
        for h in range(q.shape[1]):
            sk = feature_map(k[0, h].double(), "l2")
            sq = feature_map(q[0, h].double(), "l2")
            ks, qs = spread(sk), spread(sq)
            rows.append({"key_mean": ks["mean"], "key_cos": ks["cos"], "key_pr": ks["pr"],
                         "query_mean": qs["mean"], "query_pr": qs["pr"],
                         "beta": float(beta[0, h].mean()), "gate": float(torch.sigmoid(attn.gate[h]))})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--haystack", action="append", default=[], help="folder or file of real text")
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    if lm.config.feature_map != "l2":
        raise SystemExit(f"{lm.name} uses feature_map={lm.config.feature_map!r}; this bench reads unit (l2) keys")
    n = args.tokens
    simple = lm.tokenizer.encode(SIMPLE_FILLER)
    streams = {"filler": (simple * (n // len(simple) + 1))[:n]}
    if args.haystack:
        streams[", ".join(args.haystack)] = Haystack(lm, args.haystack).window(random.Random(args.seed), n)
    print(f"model {lm.name}, memory_center {lm.config.memory_center}, d_head {lm.config.d_head}, "
          f"{n} tokens per stream\n")
    for name, tokens in streams.items():
        print(f"{name}:\n")
        print("| layer.head | key |mean| | key cos | key PR | query |mean| | query PR | beta | gate |")
        print("|---|---|---|---|---|---|---|---|")
        heads = [(layer, h) for layer in range(lm.config.n_layer) for h in range(lm.config.n_head)]
        for (layer, h), r in zip(heads, key_geometry(lm.model, tokens)):
            print(f"| {layer}.{h} | {r['key_mean']:.3f} | {r['key_cos']:.3f} | {r['key_pr']:.1f} | "
                  f"{r['query_mean']:.3f} | {r['query_pr']:.1f} | {r['beta']:.3f} | {r['gate']:.3f} |")
        print()


if __name__ == "__main__":
    main()
