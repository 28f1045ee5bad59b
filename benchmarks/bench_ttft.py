"""Time to first token against corpus size: answering reads a fixed-size memory, so the time
should not grow with the corpus. A script, not a test: it prints a table.

    python benchmarks/bench_ttft.py --model runs/base/p4-step800 [--sizes 10000,100000,1000000]

Each corpus is real text: the first N bytes of the Python standard library's .py files, copied
into a temporary folder and ingested into a temporary store (the byte tokenizer makes tokens =
bytes, plus a short header per file). For each corpus it measures, as medians over --repeats:
  load   reading the snapshot from the store (past the process cache, as a fresh process does),
  ttft   from the start of answering to the first token, over the loaded memory,
  cold   load + ttft: what a fresh `docqa ask` waits before text appears (besides model load),
  total  the whole answer, with its token count.
"tail" is the stream's unfinished segment, kept in the snapshot and read before the question:
it is under one segment long whatever the corpus size, and is the main cause of ttft variation.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import torch

from docqa import api
from docqa.api import Corpus

QUESTION = "What does this module do?"


def build_corpus(folder: Path, n_bytes: int) -> int:
    """Copy stdlib .py files (flattened names, sorted) into `folder` until they hold n_bytes;
    the last file is cut at a line end. Returns the bytes written."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    folder.mkdir(parents=True)
    written = 0
    for src in sorted(stdlib.rglob("*.py")):
        if "site-packages" in src.parts:
            continue
        text = src.read_bytes().decode("utf-8", errors="ignore")
        data = text.encode("utf-8")
        if not data.strip():
            continue
        if written + len(data) > n_bytes:
            cut = data[: n_bytes - written]
            data = cut[: cut.rfind(b"\n") + 1]
        if data:
            name = "__".join(src.relative_to(stdlib).parts)
            (folder / name).write_bytes(data)
            written += len(data)
        if written >= n_bytes or n_bytes - written < 80:
            return written
    return written


def measure(corpus: Corpus, repeats: int, max_tokens: int) -> dict[str, float]:
    """Medians over `repeats` cold answers (the snapshot is read from the store each time)."""
    loads, ttfts, totals, tokens, tail = [], [], [], [], 0
    lm = corpus.lm
    for _ in range(repeats):
        t0 = time.perf_counter()  # what Corpus.memory() does on a cache miss: open the store, read, check
        with corpus.store() as store:
            memory = store.load_snapshot(corpus.name, model_fingerprint=lm.fingerprint, model_name=lm.name)
        loads.append(time.perf_counter() - t0)
        tail = memory.pending.shape[1]
        answer = corpus.ask(QUESTION, max_tokens=max_tokens)
        ttfts.append(answer.first_token_s)
        totals.append(answer.total_s)
        tokens.append(answer.answer_tokens)
    load, ttft = statistics.median(loads), statistics.median(ttfts)
    return dict(load=load, ttft=ttft, cold=statistics.median(a + b for a, b in zip(loads, ttfts)),
                total=statistics.median(totals), tokens=statistics.median(tokens), tail=tail)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a model directory (default: the shipped model)")
    ap.add_argument("--sizes", default="10000,100000,1000000", help="corpus sizes in tokens, comma-separated")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(s < 1000 for s in sizes) or args.repeats < 1:
        ap.error(f"sizes must be at least 1000 tokens and repeats at least 1, got {sizes} and {args.repeats}")
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        lm = api.get_model(args.model)  # loaded once, outside every measurement
        print(f"model {lm.name} (segment {lm.config.segment_len}), CPU: {cpu_name()}, "
              f"{os.cpu_count()} cores, {args.threads} torch thread(s), torch {torch.__version__}, "
              f"Python {platform.python_version()}")
        print(f"question {QUESTION!r}, greedy, at most {args.max_tokens} answer tokens, "
              f"median of {args.repeats} runs\n")
        print("| corpus tokens | files | ingest tokens/s | snapshot | tail | load ms | ttft ms | cold ms "
              "| total ms | answer tokens |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in sizes:
            folder = Path(tmp) / f"corpus-{size}"
            build_corpus(folder, size)
            corpus = Corpus(f"bench-{size}", db=db, model=args.model)
            report = corpus.ingest(str(folder))
            corpus.ask(QUESTION, max_tokens=2)  # warm-up: first-call costs are not the corpus's
            m = measure(corpus, args.repeats, args.max_tokens)
            ms = " | ".join(f"{m[k] * 1e3:.1f}" for k in ("load", "ttft", "cold", "total"))
            print(f"| {report.tokens:,} | {report.ingested} | {report.tokens / report.seconds:,.0f} "
                  f"| {report.snapshot_bytes / 1024:,.0f} KiB | {m['tail']} | {ms} | {m['tokens']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
