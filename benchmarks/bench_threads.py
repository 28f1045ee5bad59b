"""Ingest tokens/s by torch thread count, on a quiet machine and beside a competing CPU load.
A script, not a test: it prints a table.

    python benchmarks/bench_threads.py [--threads 1,2,4] [--load N] [--kb 16] [--repeats 3] [--passive]

Each cell is a real `docqa ingest DIR --threads T --json` into a fresh store (the rate is the
report's tokens / streaming seconds, model loading left out): the median of --repeats rounds,
with the slowest and fastest in brackets. The corpus
is the first --kb kilobytes of this repository's own Python source. "loaded" runs beside --load
busy-loop processes (default: one per CPU), as a machine that is busy with something else.
--passive adds rows with OMP_WAIT_POLICY=PASSIVE (threads that sleep instead of spinning while
they wait for each other) for the counts above 1.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def spin() -> None:
    while True:
        pass


def make_corpus(folder: Path, kb: int) -> int:
    """The first `kb` KB of docqa's own .py files, as text files; returns the bytes written."""
    folder.mkdir(parents=True)
    budget, i = kb * 1024, 0
    for src in sorted((ROOT / "docqa").rglob("*.py")):
        if budget <= 0:
            break
        text = src.read_text()[:budget]
        (folder / f"{i:03d}_{src.name}.txt").write_text(text)
        budget -= len(text.encode())
        i += 1
    return kb * 1024 - max(budget, 0)


def ingest_rate(corpus: Path, threads: int, passive: bool, model: str | None, tmp: Path) -> tuple[float, int]:
    db = tmp / f"{len(list(tmp.iterdir()))}.db"
    argv = [sys.executable, "-c", "import sys; from docqa.cli.main import cli; sys.exit(cli())", "ingest",
            str(corpus), "--corpus", "bench", "--db", str(db), "--threads", str(threads), "--json"]
    if model:
        argv += ["--model", model]
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "DOCQA_THREADS")}
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run(argv, env=env, cwd=tmp, capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    return report["tokens"] / report["seconds"], report["tokens"]


def measure(corpus: Path, rows: list[tuple[int, bool]], model: str | None, tmp: Path,
            repeats: int) -> dict[tuple[int, bool], list[float]]:
    """Rates per row. The rows take turns, so that other work on the machine comes and goes
    across all of them alike rather than landing on one."""
    rates: dict[tuple[int, bool], list[float]] = {row: [] for row in rows}
    for r in range(repeats):
        for row in rows:
            rate, tokens = ingest_rate(corpus, *row, model, tmp)
            rates[row].append(rate)
            print(f"  round {r + 1}, {label(*row)}: {rate:,.0f} tok/s ({tokens:,} tokens)", file=sys.stderr)
    return rates


def cell(rates: list[float]) -> str:
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"


def label(threads: int, passive: bool) -> str:
    return f"{threads}, OMP_WAIT_POLICY=PASSIVE" if passive else str(threads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2,4", help="Thread counts to try.")
    ap.add_argument("--load", type=int, default=os.cpu_count(), help="Busy-loop processes for the loaded column.")
    ap.add_argument("--kb", type=int, default=16, help="Corpus size in KB.")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="Model directory (default: the shipped model).")
    ap.add_argument("--passive", action="store_true", help="Also measure with OMP_WAIT_POLICY=PASSIVE.")
    args = ap.parse_args()
    counts = [int(x) for x in args.threads.split(",")]
    rows = [(t, False) for t in counts] + [(t, True) for t in counts if args.passive and t > 1]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        size = make_corpus(tmp / "corpus", args.kb)
        before = os.getloadavg()[0]  # other work on the machine: the "quiet" column is only as quiet as this
        print(f"quiet (load average {before:.1f}):", file=sys.stderr)
        quiet = measure(tmp / "corpus", rows, args.model, tmp, args.repeats)
        spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.load)]
        for p in spinners:
            p.start()
        try:
            print(f"loaded ({args.load} busy loops):", file=sys.stderr)
            loaded = measure(tmp / "corpus", rows, args.model, tmp, args.repeats)
        finally:
            for p in spinners:
                p.terminate()
                p.join()
    print(f"docqa ingest of {size / 1024:.0f} KB of Python source ({args.model or 'shipped model'}), "
          f"{os.cpu_count()} CPUs, load average {before:.1f} at the start; loaded = beside {args.load} busy-loop "
          f"processes; median (slowest-fastest) of {args.repeats} rounds\n")
    print("| --threads | quiet tok/s | loaded tok/s | loaded / quiet (medians) |")
    print("|---|---|---|---|")
    for row in rows:
        ratio = statistics.median(loaded[row]) / statistics.median(quiet[row])
        print(f"| {label(*row)} | {cell(quiet[row])} | {cell(loaded[row])} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
