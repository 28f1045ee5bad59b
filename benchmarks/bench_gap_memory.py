"""Benchmark: peak memory and time of one training gap (docqa.train.gap.stream_gap).

    python benchmarks/bench_gap_memory.py MODEL [--segments 64,256] [--batch 8] [--learn-writes]

Each row runs in a fresh process (the peak RSS of a process only grows), streaming a gap of random
tokens into an empty memory with a graph on it, as the training loop does, on one thread. Prints a
table: segments, tokens, seconds, peak RSS. Written when a gap of 1,024 segments at batch 8 beside
another run was OOM-killed (docs/TRAINING.md, forty-second session): the gap kept every chunk's
inputs until it ended.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def one(model: str, segments: int, batch: int, learn_writes: bool) -> dict:
    import torch

    from docqa.model.io import load_model
    from docqa.train.gap import stream_gap

    torch.set_num_threads(1)
    m = load_model(model).model
    tokens = torch.randint(0, m.cfg.vocab_size, (batch, segments * m.cfg.segment_len),
                           generator=torch.Generator().manual_seed(0))
    memory = m.new_memory(batch)
    for layer in memory.layers:
        layer.M.requires_grad_(True)
    t = time.perf_counter()
    stream_gap(m, memory, tokens, learn_writes=learn_writes)
    return {"segments": segments, "tokens": int(tokens.numel()), "seconds": time.perf_counter() - t,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--segments", default="64,256", help="gap lengths in segments, comma-separated")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--learn-writes", action="store_true", help="the gap's writes learn (TrainConfig.gap_learn_writes)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a row, in its own process
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.model, args.one, args.batch, args.learn_writes)))
        return
    print(f"model {args.model}, batch {args.batch}, learn_writes {args.learn_writes}, one thread\n")
    print("| segments | tokens | seconds | peak RSS (MB) |\n|---|---|---|---|")
    for g in (int(s) for s in args.segments.split(",")):
        cmd = [sys.executable, __file__, args.model, "--one", str(g), "--batch", str(args.batch)]
        out = subprocess.run(cmd + (["--learn-writes"] if args.learn_writes else []), check=True,
                             capture_output=True, text=True).stdout
        row = json.loads(out)
        print(f"| {row['segments']:,} | {row['tokens']:,} | {row['seconds']:.1f} | {row['peak_mb']:,} |")


if __name__ == "__main__":
    main()
