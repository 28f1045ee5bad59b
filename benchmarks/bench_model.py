"""Model throughput on this machine: `ingest` tokens/s with and without the memory path, and the
cost of each update rule. A script, not a test: it prints a table.

    python benchmarks/bench_model.py [--tokens 65536] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from docqa.model.config import ModelConfig
from docqa.model.transformer import InfiniTransformer


def measure(cfg: ModelConfig, tokens: torch.Tensor, use_memory: bool, repeats: int = 3) -> float:
    model = InfiniTransformer(cfg).eval()
    model.ingest(tokens[:, : 4 * cfg.segment_len], model.new_memory(tokens.shape[0]))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.ingest(tokens, model.new_memory(tokens.shape[0]), use_memory=use_memory)
        best = min(best, time.perf_counter() - t0)
    return tokens.numel() / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=65536)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--preset", default="small")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tokens = torch.randint(0, 256, (1, args.tokens))
    print(f"ingest throughput, preset {args.preset}, {args.tokens} tokens, {args.threads} thread(s), CPU\n")
    print("| feature map | update | memory path | tokens/s | relative |")
    print("|---|---|---|---|---|")
    for fm, upd in [("l2", "token_delta"), ("l2", "delta"), ("elu1", "delta"), ("elu1", "linear")]:
        cfg = ModelConfig.from_name(args.preset, feature_map=fm, update=upd,
                                    use_z=None if upd != "token_delta" else False)
        without = measure(cfg, tokens, use_memory=False)
        with_mem = measure(cfg, tokens, use_memory=True)
        print(f"| {fm} | {upd} | off | {without:,.0f} | 1.00 |")
        print(f"| {fm} | {upd} | on | {with_mem:,.0f} | {with_mem / without:.2f} |")


if __name__ == "__main__":
    main()
