"""The sources bench's trials three ways: as N files (each behind its header, as `docqa bench sources`
streams them), as the same N pieces written as one file (one header), and as N files cut one after
another from the running filler (headers, but text that never jumps). Tells the headers' share of a
miss from the text's: the bench's pieces each start at a random place in the filler, so the text
jumps every piece in the first two.

    python benchmarks/bench_sources_one_file.py --model DIR [--n-docs 100] [--trials 10]

Prints a markdown table of each trial's answers and the totals (the same seeds as the bench's
first trials).
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from docqa.bench.sources import PASSKEY_FORMS, SIMPLE_FILLER, _trial, draw_trial, hide
from docqa.ingest import IngestOptions
from docqa.model.io import load_model
from docqa.store import Store
from docqa.threads import set_threads


def running_texts(doc_bytes: int, rng: random.Random, n: int) -> list[str]:
    """n documents cut one after another from the running filler (from a random start): the text
    goes on across every header."""
    start = rng.randrange(len(SIMPLE_FILLER))
    long = SIMPLE_FILLER * ((n * doc_bytes + start) // len(SIMPLE_FILLER) + 2)
    return [long[start + i * doc_bytes:start + (i + 1) * doc_bytes] for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--n-docs", type=int, default=100)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    lm = load_model(args.model)
    rows, right = [], {"files": 0, "one file": 0, "running": 0}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with Store(root / "bench.db") as store:
            for i in range(args.trials):
                texts, k, key = draw_trial(args.n_docs, i, needle=True)  # the bench's first trials
                files = _trial(lm, store, root / f"f{i}", f"f{i}", texts, k, key, IngestOptions())["answer"]
                joined = texts[:k] + [hide(texts[k], PASSKEY_FORMS[0][0].format(v=key))] + texts[k + 1:]
                one = _trial(lm, store, root / f"o{i}", f"o{i}", ["".join(joined)], None, key, IngestOptions())["answer"]
                running = _trial(lm, store, root / f"r{i}", f"r{i}", running_texts(256, random.Random(f"running:{i}"),
                                                                                  args.n_docs), k, key, IngestOptions())["answer"]
                right["files"] += files == key
                right["one file"] += one == key
                right["running"] += running == key
                rows.append(f"| {i} | {k} | {key} | {files!r} | {one!r} | {running!r} |")
    print(f"model {lm.name}, {args.n_docs} pieces of 256 bytes\n")
    print("| trial | piece | key | as files | as one file | running text as files |\n|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nright: as files {right['files']} / {args.trials}, as one file {right['one file']} / {args.trials}, "
          f"running text as files {right['running']} / {args.trials}")


if __name__ == "__main__":
    main()
