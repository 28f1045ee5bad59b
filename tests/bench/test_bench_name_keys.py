"""benchmarks/bench_name_keys.py: the same-name / other-name cosine means."""

from __future__ import annotations

import pytest
import torch

from by_path import benchmark


def test_same_and_other_average_the_pairs_of_each_kind():
    same_and_other = benchmark("bench_name_keys").same_and_other
    e = torch.eye(3)
    vecs = [("a", e[0]), ("a", e[0]), ("b", e[1]), ("b", (e[0] + e[1]) / 2 ** 0.5)]
    same, other = same_and_other(vecs)
    # same: (a0, a1) = 1, (b2, b3) = 0.707; other: a-b pairs: 0, 0.707, 0, 0.707
    assert same.item() == pytest.approx((1 + 0.5 ** 0.5) / 2)
    assert other.item() == pytest.approx(0.5 ** 0.5 / 2)
    same, other = same_and_other([("a", e[0])], [("a", e[0]), ("b", e[2])])  # across two lists
    assert (same.item(), other.item()) == (1.0, 0.0)
