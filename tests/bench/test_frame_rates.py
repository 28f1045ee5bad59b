"""benchmarks/frame_rates.py: the trials drawn again are the bench's own, matched to their frames."""

from __future__ import annotations

from collections import Counter

import pytest

from docqa.bench.haystack import trial_facts, trial_rng
from docqa.train import phrasings as ph

from by_path import benchmark

frame_rates = benchmark("frame_rates")


def _drawn(seed, split, length, depth, n):
    out = []
    for i in range(n):
        facts, ask, _ = trial_facts("needle", trial_rng(seed, "needle", split, length, depth, i), split, 0.5)
        statement, (question, answer) = facts[ask]
        out.append({"statement": statement, "question": question, "answer": answer, "got": "x", "stored": [answer]})
    return out


def test_each_trial_counts_once_under_its_frames_and_the_misses_are_not_answered():
    trials = _drawn(3, "heldout", 4096, "middle", 12)
    bench = {"seed": 3, "cells": [{"task": "needle", "split": "heldout", "length": 4096, "depth": "middle",
                                   "n": 12, "misses": [trials[0], trials[5], trials[7]]}]}
    rates = frame_rates.rates(bench)
    for part in ("statement", "question"):
        rows = {k[2]: v for k, v in rates.items() if k[1] == part}
        assert sum(n for _, n in rows.values()) == 12 and sum(r for r, _ in rows.values()) == 9
    want = Counter(frame_rates.frame_of(t["statement"], frame_rates.STATEMENT_PATTERNS) for t in trials)
    assert {k[2]: n for k, (_, n) in rates.items() if k[1] == "statement"} == want
    missed = frame_rates.frame_of(trials[0]["question"], frame_rates.QUESTION_PATTERNS)
    right, n = rates[("heldout", "question", missed)]
    assert right < n
    assert set(want) <= set(ph.split(ph.STATEMENTS, "heldout"))


def test_a_miss_from_another_draw_is_refused():
    other = _drawn(4, "heldout", 4096, "middle", 1)  # seed 4's trial in a bench of seed 3
    bench = {"seed": 3, "cells": [{"task": "needle", "split": "heldout", "length": 4096, "depth": "middle",
                                   "n": 4, "misses": other}]}
    with pytest.raises(ValueError, match="another seed"):
        frame_rates.rates(bench)


def test_a_question_that_extends_another_is_given_its_own_frame():
    text = "What is the pass key I was given?"
    assert frame_rates.frame_of(text, frame_rates.QUESTION_PATTERNS) == "What is the {s} I was given?"


def test_a_stray_miss_in_any_cell_is_refused_not_only_in_the_last():
    stray = _drawn(4, "heldout", 4096, "middle", 1)
    cells = [{"task": "needle", "split": "heldout", "length": 4096, "depth": "middle", "n": 4, "misses": stray},
             {"task": "needle", "split": "heldout", "length": 4096, "depth": "end", "n": 4, "misses": []}]
    with pytest.raises(ValueError, match="another seed"):
        frame_rates.rates({"seed": 3, "cells": cells})
