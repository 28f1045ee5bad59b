"""How large each memory head's matrix grows as a long stream is written into it.

    python benchmarks/bench_memory_norm.py --model checkpoints/bpe-c4 --haystack runs/eval/prose

With unit keys (l2 feature map) a token_delta write M <- (I - beta k k^T) M + beta k v^T is a
contraction along its key k and leaves every other direction alone. A stream whose keys keep
asking for different values along nearly the same directions drives M, as an iteration for
least squares does, towards a solution that is large where the keys are ill-conditioned; nothing
pulls it back. A query that is not exactly a stored key picks up that part of M, so a fact
written last can be buried under what the stream before it left (docs/TRAINING.md, December,
fifth session). `memory_decay` (M <- alpha M before each segment) bounds it.

Per layer and head, the Frobenius norm of M after every `--every` segments, for the training
filler's repeated sentences and (with --haystack) a window of real text.
"""

from __future__ import annotations

import argparse
import random

import torch

from docqa.bench.haystack import Haystack
from docqa.model.io import load_model
from docqa.train.tasks import SIMPLE_FILLER


@torch.no_grad()
def norms(model, tokens: list[int], every: int) -> list[list[float]]:
    """||M||_F per (layer, head), flattened layer-major, after every `every` segments of tokens."""
    S = model.cfg.segment_len
    memory, rows = model.new_memory(1), []
    for i in range(0, len(tokens) // S - every + 1, every):
        memory = model.ingest(torch.tensor([tokens[i * S:(i + every) * S]]), memory)
        rows.append([float(m.M[0, h].norm()) for m in memory.layers for h in range(m.M.shape[1])])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--haystack", action="append", default=[], help="folder or file of real text")
    ap.add_argument("--segments", type=int, default=1024)
    ap.add_argument("--every", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    S, n = lm.config.segment_len, args.segments * lm.config.segment_len
    simple = lm.tokenizer.encode(SIMPLE_FILLER)
    streams = {"filler": (simple * (n // len(simple) + 1))[:n]}
    if args.haystack:
        streams[", ".join(args.haystack)] = Haystack(lm, args.haystack).window(random.Random(args.seed), n)
    heads = [(layer, h) for layer in range(lm.config.n_layer) for h in range(lm.config.n_head)]
    print(f"model {lm.name}, memory_decay {lm.config.memory_decay}, segments of {S} tokens\n")
    for name, tokens in streams.items():
        print(f"{name}: ||M||_F by layer.head\n")
        print("| segments | " + " | ".join(f"{layer}.{h}" for layer, h in heads) + " |")
        print("|---|" + "---|" * len(heads))
        for i, row in enumerate(norms(lm.model, tokens, args.every)):
            print(f"| {(i + 1) * args.every} | " + " | ".join(f"{x:.1f}" for x in row) + " |")
        print()


if __name__ == "__main__":
    main()
