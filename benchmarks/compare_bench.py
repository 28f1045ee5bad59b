"""Two `docqa bench recall --haystack ... --json` outputs, trial by trial: which model answers
the trials the other misses, and is the difference more than the draw of trials?

    python benchmarks/compare_bench.py A.json B.json [A64.json B64.json ...]

Files go in pairs (A then B); each pair must be the same bench (same haystack, seed and n), so
that cell by cell both models saw the same trials. Pairs of other seeds (or lengths) add up: a
pair of seed 0 and a pair of seed 1 give the trials of both; a pair whose seed and cells an
earlier pair already gave is refused rather than counted twice. A trial is named by its
statement, question and answer; a cell's misses are the trials a model got wrong, so a miss of
A's that B does not have is a trial only B answered. Per task, split and length, and over all cells of each split:
the trials only A answered, only B answered, and the two-sided sign test's p on those
discordant trials (McNemar's exact test). Paired trials need far fewer of them than two exact
rates side by side to tell a difference from the draw.

The files may instead be pairs of `benchmarks/bench_heldout_parts.py --frame ... --trials FILE`
outputs, which keep every trial's result: then per statement frame, and over all frames.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from math import comb
from pathlib import Path


def sign_test(a: int, b: int) -> float:
    """Two-sided exact p of a and b discordant trials under no difference (each side 1/2)."""
    n = a + b
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(a, b) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def _key(cell: dict) -> tuple:
    return cell["task"], cell["split"], cell["length"], cell["depth"]


def _misses(cell: dict) -> Counter:
    return Counter((m["statement"], m["question"], m["answer"]) for m in cell["misses"])


def discordant(a: dict, b: dict, seed_unchecked: bool = False) -> dict[tuple, tuple[int, int, int]]:
    """(task, split, length, depth) -> (n, trials only A answered, trials only B answered) over
    the cells both benches have. Raises ValueError when the two are not the same bench.

    Another seed draws other trials, whose misses would all count as discordant, so the seeds
    must match; a bench from before the seed was recorded is taken only with `seed_unchecked`."""
    if a["haystack_tokens"] != b["haystack_tokens"]:
        raise ValueError(f"different haystacks ({a['haystack_tokens']} and {b['haystack_tokens']} tokens)")
    if not seed_unchecked:
        for name, bench in (("A", a), ("B", b)):
            if "seed" not in bench:
                raise ValueError(f"{name} records no seed (a bench from before seeds were recorded): rerun it, or "
                                 "pass --seed-unchecked if both ran with the same --seed")
        if a["seed"] != b["seed"]:
            raise ValueError(f"different seeds ({a['seed']} and {b['seed']}), so different trials: "
                             "run both with the same --seed")
    cells_b = {_key(c): c for c in b["cells"]}
    out = {}
    for c in a["cells"]:
        key = _key(c)
        if key not in cells_b:
            continue
        other = cells_b[key]
        if c["n"] != other["n"]:
            raise ValueError(f"cell {key}: n {c['n']} against {other['n']}: run both with the same --n")
        if "misses" not in c or "misses" not in other:
            raise ValueError(f"cell {key} lists no misses (a bench JSON from before they were recorded): rerun it")
        ma, mb = _misses(c), _misses(other)
        out[key] = (c["n"], sum((mb - ma).values()), sum((ma - mb).values()))
    return out


def discordant_trials(a: dict, b: dict) -> dict[tuple, tuple[int, int, int]]:
    """("frame", frame, length, depth) -> (n, only A right, only B right) over the frames both
    `bench_heldout_parts.py --trials` files have; trial i is the same text and needle in both."""
    for key in ("length", "depth", "seed"):
        if a[key] != b[key]:
            raise ValueError(f"different {key} ({a[key]} and {b[key]}), so different trials")
    out = {}
    for frame, ra in a["trials"].items():
        if frame not in b["trials"]:
            continue
        rb = b["trials"][frame]
        if len(ra) != len(rb):
            raise ValueError(f"frame {frame!r}: n {len(ra)} against {len(rb)}: run both with the same --n")
        out[("frame", frame, a["length"], a["depth"])] = (len(ra), sum(x and not y for x, y in zip(ra, rb)),
                                                          sum(y and not x for x, y in zip(ra, rb)))
    return out


def table(pairs: dict[tuple, tuple[int, int, int]], name_a: str, name_b: str) -> str:
    """pairs: ((task, split, length, depth), seed) -> (n, only A right, only B right)."""
    rows: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for ((task, split, length, _depth), _seed), counts in pairs.items():
        for key in ((task, split, str(length)), (task, split, "all")):
            rows[key] = [x + y for x, y in zip(rows[key], counts)]
    lines = [f"A = {name_a}, B = {name_b}", "",
             "| task | split | length | trials | only A right | only B right | sign test p |",
             "|---|---|---|---|---|---|---|"]
    order = sorted(rows, key=lambda k: (k[0], k[1], k[2] == "all", int(k[2]) if k[2] != "all" else 0))
    for key in order:
        n, only_a, only_b = rows[key]
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {n} | {only_a} | {only_b} | {sign_test(only_a, only_b):.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="bench JSONs in pairs: A B [A B ...]")
    ap.add_argument("--seed-unchecked", action="store_true",
                    help="compare benches that record no seed (written before it was recorded), "
                         "trusting that both ran with the same --seed")
    args = ap.parse_args()
    if len(args.files) % 2:
        ap.error("give the files in pairs (A then B)")
    pairs: dict[tuple, tuple[int, int, int]] = {}
    names = ("", "")
    for fa, fb in zip(args.files[::2], args.files[1::2]):
        a, b = json.loads(fa.read_text()), json.loads(fb.read_text())
        try:
            cells = discordant_trials(a, b) if "trials" in a else discordant(a, b, args.seed_unchecked)
        except (ValueError, KeyError) as e:
            ap.error(f"{fa} and {fb}: not the same bench, or not both bench JSONs of one kind: {e}")
        seed = a.get("seed")
        repeated = [key for key in cells if (key, seed) in pairs]
        if repeated:
            ap.error(f"{fa} and {fb}: cells {repeated[0]} of seed {seed} were already given by an "
                     "earlier pair")
        pairs |= {(key, seed): counts for key, counts in cells.items()}
        names = (a["model"], b["model"])
    print(table(pairs, *names), end="")
    if any(k[0][0] == "frame" for k in pairs):
        n, only_a, only_b = (sum(c[i] for c in pairs.values()) for i in range(3))
        print(f"\nall frames: {n} trials, only A right {only_a}, only B right {only_b}, "
              f"sign test p {sign_test(only_a, only_b):.3f}")


if __name__ == "__main__":
    main()
