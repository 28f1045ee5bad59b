"""benchmarks/compare_bench.py: two benches of the same trials, compared trial by trial."""

from __future__ import annotations

import json
import subprocess
import sys
from math import comb
from pathlib import Path

import pytest

from by_path import benchmark

compare = benchmark("compare_bench")


def miss(i: int) -> dict:
    return {"statement": f"The code is {i}.", "question": "What is the code?", "answer": str(i), "got": "x", "stored": []}


def bench(misses_by_cell: dict[tuple, list[int]], tokens: int = 1000, n: int = 10, seed: int | None = 0) -> dict:
    cells = [{"task": "needle", "split": split, "length": length, "depth": depth, "n": n,
              "exact": 1 - len(m) / n, "knockout": 0.0, "fts": 1.0, "misses": [miss(i) for i in m]}
             for (split, length, depth), m in misses_by_cell.items()]
    out = {"model": "m", "fingerprint": "f", "haystack": ["h"], "haystack_tokens": tokens, "cells": cells}
    return out if seed is None else {**out, "seed": seed}


def test_discordant_trials_are_counted_per_cell():
    a = bench({("train", 1024, "start"): [1, 2, 3], ("heldout", 1024, "start"): [4]})
    b = bench({("train", 1024, "start"): [3, 5], ("heldout", 1024, "start"): [4, 6, 7], ("train", 4096, "end"): [1]})
    d = compare.discordant(a, b)
    # A missed 1, 2 (B answered them), B missed 5 (A answered it); 3 both missed
    assert d[("needle", "train", 1024, "start")] == (10, 1, 2)
    assert d[("needle", "heldout", 1024, "start")] == (10, 2, 0)
    assert ("needle", "train", 4096, "end") not in d  # a cell only one bench has is left out


def test_sign_test_is_the_exact_binomial():
    assert compare.sign_test(0, 0) == 1.0
    assert compare.sign_test(3, 3) == 1.0
    assert compare.sign_test(0, 5) == pytest.approx(2 / 32)
    assert compare.sign_test(2, 10) == pytest.approx(2 * sum(comb(12, i) for i in range(3)) / 2 ** 12)
    assert compare.sign_test(10, 2) == compare.sign_test(2, 10)


def test_refuses_two_different_benches():
    a = bench({("train", 1024, "start"): [1]})
    with pytest.raises(ValueError, match="different haystacks"):
        compare.discordant(a, bench({("train", 1024, "start"): [1]}, tokens=999))
    with pytest.raises(ValueError, match="same --n"):
        compare.discordant(a, bench({("train", 1024, "start"): [1]}, n=20))
    old = bench({("train", 1024, "start"): [1]})
    del old["cells"][0]["misses"]
    with pytest.raises(ValueError, match="lists no misses"):
        compare.discordant(a, old)


def test_refuses_benches_of_different_seeds():
    # Another seed draws other trials: misses no longer name the same trials, and every one of
    # them would be counted as a trial the other model answered.
    a = bench({("train", 1024, "start"): [1]})
    with pytest.raises(ValueError, match="different seeds"):
        compare.discordant(a, bench({("train", 1024, "start"): [1]}, seed=1))
    old = bench({("train", 1024, "start"): [2]}, seed=None)  # written before the seed was recorded
    with pytest.raises(ValueError, match="records no seed"):
        compare.discordant(a, old)
    assert compare.discordant(a, old, seed_unchecked=True)[("needle", "train", 1024, "start")] == (10, 1, 1)


def test_cli_takes_old_benches_only_when_told(tmp_path: Path):
    (tmp_path / "a.json").write_text(json.dumps(bench({("train", 1024, "start"): [1]}, seed=None)))
    (tmp_path / "b.json").write_text(json.dumps(bench({("train", 1024, "start"): [2]})))
    script = Path(__file__).parents[2] / "benchmarks" / "compare_bench.py"
    files = [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    refused = subprocess.run([sys.executable, str(script), *files], capture_output=True, text=True)
    assert refused.returncode != 0 and "--seed-unchecked" in refused.stderr
    told = subprocess.run([sys.executable, str(script), "--seed-unchecked", *files], capture_output=True, text=True,
                          check=True).stdout
    assert "| needle | train | 1024 | 10 | 1 | 1 |" in told


def test_cli_prints_rows_and_totals(tmp_path: Path):
    a = bench({("train", 1024, "start"): [1, 2], ("train", 4096, "start"): [3]})
    b = bench({("train", 1024, "start"): [], ("train", 4096, "start"): [4, 5]})
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    script = Path(__file__).parents[2] / "benchmarks" / "compare_bench.py"
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "a.json"), str(tmp_path / "b.json")],
                         capture_output=True, text=True, check=True).stdout
    assert "| needle | train | 1024 | 10 | 0 | 2 |" in out
    assert "| needle | train | 4096 | 10 | 2 | 1 |" in out
    assert "| needle | train | all | 20 | 2 | 3 | 1.000 |" in out
    odd = subprocess.run([sys.executable, str(script), str(tmp_path / "a.json")], capture_output=True, text=True)
    assert odd.returncode != 0 and "in pairs" in odd.stderr


def trials(by_frame: dict[str, list[bool]], length: int = 4096, seed: int = 0) -> dict:
    return {"model": "m", "length": length, "depth": "end", "seed": seed, "trials": by_frame}


def test_frame_trials_are_compared_trial_by_trial():
    a = trials({"The {s} is {v}.": [True, True, False, False], "The {s} reads {v}.": [False, True, True, True],
                "only in A {s} {v}": [True]})
    b = trials({"The {s} is {v}.": [True, False, True, True], "The {s} reads {v}.": [False, False, True, True]})
    d = compare.discordant_trials(a, b)
    assert d == {("frame", "The {s} is {v}.", 4096, "end"): (4, 1, 2),
                 ("frame", "The {s} reads {v}.", 4096, "end"): (4, 1, 0)}
    with pytest.raises(ValueError, match="different seed"):
        compare.discordant_trials(a, trials({}, seed=1))
    with pytest.raises(ValueError, match="same --n"):
        compare.discordant_trials(a, trials({"The {s} is {v}.": [True]}))


def test_the_script_sums_frames_over_all(tmp_path):
    fa, fb = tmp_path / "a.json", tmp_path / "b.json"
    fa.write_text(json.dumps(trials({"x {s} {v}": [True, True, True], "y {s} {v}": [True, False, False]})))
    fb.write_text(json.dumps(trials({"x {s} {v}": [False, False, True], "y {s} {v}": [False, True, False]})))
    out = subprocess.run([sys.executable, str(Path(compare.__file__)), str(fa), str(fb)],
                         capture_output=True, text=True, check=True).stdout
    assert "all frames: 6 trials, only A right 3, only B right 1, sign test p 0.625" in out


def test_cli_sums_pairs_of_two_seeds_and_refuses_a_pair_given_twice(tmp_path: Path):
    # seed 0 and seed 1 draw other trials for the same cells: both pairs count, none replaces the other
    files = []
    for seed, (ma, mb) in enumerate([([1, 2], [3]), ([4], [5, 6, 7])]):
        for name, m in (("a", ma), ("b", mb)):
            (tmp_path / f"{name}{seed}.json").write_text(json.dumps(bench({("heldout", 1024, "start"): m}, seed=seed)))
        files += [str(tmp_path / f"a{seed}.json"), str(tmp_path / f"b{seed}.json")]
    script = Path(__file__).parents[2] / "benchmarks" / "compare_bench.py"
    out = subprocess.run([sys.executable, str(script), *files], capture_output=True, text=True, check=True).stdout
    assert "| needle | heldout | 1024 | 20 | 4 | 3 |" in out  # seed 0: 1 / 2, seed 1: 3 / 1
    assert "| needle | heldout | all | 20 | 4 | 3 |" in out
    twice = subprocess.run([sys.executable, str(script), *files[:2], *files[:2]], capture_output=True, text=True)
    assert twice.returncode != 0 and "already" in twice.stderr
