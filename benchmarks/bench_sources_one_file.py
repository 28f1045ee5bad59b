"""The sources bench's trials two ways: as N files (each behind its header, as `docqa bench sources`
streams them) and as the same N pieces written as one file (one header). Tells the headers' share
of a miss from the text's: each piece starts at a random place in the filler, so the text jumps
every piece either way.

    python benchmarks/bench_sources_one_file.py --model DIR [--n-docs 100] [--trials 10]

Prints a markdown table of each trial's answers and the totals (the same seeds as the bench's
first trials).
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from docqa.bench.sources import PASSKEY_FORMS, _trial, digits, filler_texts, hide
from docqa.ingest import IngestOptions
from docqa.model.io import load_model
from docqa.store import Store
from docqa.threads import set_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--n-docs", type=int, default=100)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    lm = load_model(args.model)
    rows, right = [], {"files": 0, "one file": 0}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with Store(root / "bench.db") as store:
            for i in range(args.trials):
                rng = random.Random(f"0:{args.n_docs}:{i}")  # run_cell's seeds: its first trials
                texts = filler_texts(256, rng, args.n_docs)
                k = rng.randrange(args.n_docs)
                key = digits(rng)
                files = _trial(lm, store, root / f"f{i}", f"f{i}", texts, k, key, IngestOptions())["answer"]
                joined = texts[:k] + [hide(texts[k], PASSKEY_FORMS[0][0].format(v=key))] + texts[k + 1:]
                one = _trial(lm, store, root / f"o{i}", f"o{i}", ["".join(joined)], None, key, IngestOptions())["answer"]
                right["files"] += files == key
                right["one file"] += one == key
                rows.append(f"| {i} | {k} | {key} | {files!r} | {one!r} |")
    print(f"model {lm.name}, {args.n_docs} pieces of 256 bytes\n")
    print("| trial | piece | key | as files | as one file |\n|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nright: as files {right['files']} / {args.trials}, as one file {right['one file']} / {args.trials}")


if __name__ == "__main__":
    main()
