"""How long a docqa command takes to start: wall time of `docqa --help`, `docqa corpora` and
`docqa show` against the cost of importing torch. A script, not a test: it prints a table.

    python benchmarks/bench_startup.py [--runs 7] [--source DIR]

Each command runs in a fresh interpreter, as the `docqa` console script does
(`from docqa.cli.main import cli; cli()`); the table gives the median and the fastest of --runs.
--source DIR runs the docqa found in DIR (another checkout) instead of the installed one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCQA = "import sys; from docqa.cli.main import cli; sys.exit(cli())"


def wall(argv: list[str], env: dict, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, cwd=env["DOCQA_BENCH_CWD"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return times


def make_store(db: Path, env: dict) -> None:
    """A store with one small corpus, so that `corpora` and `show` have rows to print."""
    code = ("import sys, torch; from docqa.memory import Memory; from docqa.store import NewSource, Store\n"
            "with Store(sys.argv[1]) as s:\n"
            "    s.create_corpus('notes', 'f' * 64, 'tiny')\n"
            "    s.save_snapshot('notes', Memory.zeros(4, 4, 16, 16), position=1, kind='final',\n"
            "                    sources=[NewSource(0, '/notes/a.md', size=10, tokens=3)])\n")
    subprocess.run([sys.executable, "-c", code, str(db)], env=env, cwd=env["DOCQA_BENCH_CWD"], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--source", type=Path, default=None, help="Run the docqa package found in this checkout.")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.source:
        env["PYTHONPATH"] = os.pathsep.join([str(args.source.resolve()), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "docqa.db"
        env["DOCQA_DB"] = str(db)
        env["DOCQA_BENCH_CWD"] = tmp  # not the checkout: `python -c` puts the working directory first on sys.path
        make_store(db, env)
        where = subprocess.run([sys.executable, "-c", "import docqa; print(docqa.__file__)"], env=env, cwd=tmp,
                               capture_output=True, text=True, check=True).stdout.strip()
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("python -c 'import torch'", [sys.executable, "-c", "import torch"]),
            ("docqa --help", [sys.executable, "-c", DOCQA, "--help"]),
            ("docqa corpora", [sys.executable, "-c", DOCQA, "corpora"]),
            ("docqa show notes", [sys.executable, "-c", DOCQA, "show", "notes"]),
        ]
        wall(rows[1][1], env, 1)  # warm the file cache once
        print(f"start-up wall time, {args.runs} runs each; docqa from {Path(where).parent}\n")
        print("| command | median s | fastest s |")
        print("|---|---|---|")
        for label, argv in rows:
            t = wall(argv, env, args.runs)
            print(f"| `{label}` | {statistics.median(t):.2f} | {min(t):.2f} |")


if __name__ == "__main__":
    main()
