"""How long a docqa command takes to start: wall time of `docqa --help`, `docqa corpora`,
`docqa show` and `docqa ask` against the cost of importing torch. A script, not a test: it
prints a table.

    python benchmarks/bench_startup.py [--runs 7] [--source DIR] [--rows all|ask]

Each command runs in a fresh interpreter, as the `docqa` console script does
(`from docqa.cli.main import cli; cli()`). The rounds are interleaved (every command once, then
again), so a change in the machine's load reaches every row alike. The table gives the median
and the fastest wall time, and the median CPU time of the child (user + system, from wait4),
which a busy machine inflates far less than wall time. Every command runs once unmeasured first
(file cache, and bytecode: PYTHONDONTWRITEBYTECODE is unset for the children). The `ask` row answers the README's
question from the README's demo corpus (examples/demo, ingested once before timing), and the
last line is its ratio to `import torch` in the same run (issue 14's target: at most 1.2).
--source DIR runs the docqa found in DIR (another checkout) instead of the installed one;
--compare DIR adds a second ask row that runs DIR's docqa, in the same rounds as the first (a
before/after comparison on one machine load), and a second ratio line for it.
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
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo"
QUESTION = "What is the pass key?"  # the README's


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and the child's CPU seconds (user + system) of one run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=env["DOCQA_BENCH_CWD"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} exited with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def make_store(db: Path, env: dict) -> None:
    """A store with one small corpus, so that `corpora` and `show` have rows to print."""
    code = ("import sys, torch; from docqa.memory import Memory; from docqa.store import NewSource, Store\n"
            "with Store(sys.argv[1]) as s:\n"
            "    s.create_corpus('notes', 'f' * 64, 'tiny')\n"
            "    s.save_snapshot('notes', Memory.zeros(4, 4, 16, 16), position=1, kind='final',\n"
            "                    sources=[NewSource(0, '/notes/a.md', size=10, tokens=3)])\n")
    subprocess.run([sys.executable, "-c", code, str(db)], env=env, cwd=env["DOCQA_BENCH_CWD"], check=True)
    subprocess.run([sys.executable, "-c", DOCQA, "ingest", str(DEMO), "--corpus", "demo"], env=env,
                   cwd=env["DOCQA_BENCH_CWD"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def on_path(checkout: Path, env: dict) -> str:
    """PYTHONPATH with the checkout first, so that its docqa is the one imported."""
    return os.pathsep.join([str(checkout.resolve()), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--source", type=Path, default=None, help="Run the docqa package found in this checkout.")
    ap.add_argument("--compare", type=Path, default=None,
                    help="Add an ask row that runs the docqa package found in this checkout.")
    ap.add_argument("--rows", choices=["all", "ask"], default="all",
                    help="ask: only python, import torch and docqa ask (the issue 14 comparison).")
    args = ap.parse_args()
    env = dict(os.environ)
    # as an installed docqa runs: from bytecode compiled once (pip compiles it; an editable install
    # writes __pycache__ on first import), not compiling every module at every start
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.source:
        env["PYTHONPATH"] = on_path(args.source, env)
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
            (f"docqa ask demo \"{QUESTION}\"", [sys.executable, "-c", DOCQA, "ask", "demo", QUESTION]),
        ]
        if args.rows == "ask":
            rows = [rows[0], rows[1], rows[-1]]
        envs = {label: env for label, _ in rows}
        asks = [rows[-1][0]]
        if args.compare:
            asks.append(f"{asks[0]} ({args.compare})")
            rows.append((asks[1], rows[-1][1]))
            envs[asks[1]] = {**env, "PYTHONPATH": on_path(args.compare, env)}
        for label, argv in rows:  # once unmeasured: warms the file cache and writes __pycache__
            timed(argv, envs[label])
        times: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in rows}
        for _ in range(args.runs):
            for label, argv in rows:
                times[label].append(timed(argv, envs[label]))
        print(f"start-up time, {args.runs} interleaved runs each; docqa from {Path(where).parent}\n")
        print("| command | median wall s | fastest wall s | median CPU s |")
        print("|---|---|---|---|")
        med = {}
        for label, _ in rows:
            wall, cpu = zip(*times[label])
            med[label] = (statistics.median(wall), statistics.median(cpu))
            print(f"| `{label}` | {med[label][0]:.2f} | {min(wall):.2f} | {med[label][1]:.2f} |")
        torch = med[rows[1][0]]
        print()
        for label, which in zip(asks, ["", f" ({args.compare})"]):
            ask = med[label]
            print(f"ask{which} / import torch: {ask[0] / torch[0]:.2f} (median wall), {ask[1] / torch[1]:.2f} "
                  "(median CPU)")


if __name__ == "__main__":
    main()
