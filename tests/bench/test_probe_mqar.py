"""benchmarks/probe_mqar.py: the address loss's targets point at the statements the queries ask."""

from __future__ import annotations

import argparse

import torch

from by_path import benchmark


def test_each_query_is_addressed_to_the_value_token_of_the_statement_it_asks():
    probe = benchmark("probe_mqar")
    args = argparse.Namespace(S=32, nseg=2, ktok=3, gap=1, alpha=16, pairs=6)
    x, y, targets = probe.batch(args, 3, torch.Generator().manual_seed(0))
    assert [t[0] for t in targets] == [0, 1, 2]
    for b, keys, asks in targets:
        assert len(keys) == 6 and len(asks) == 6
        for q, i in asks:
            assert x[b, q] == probe.QUERY and y[b, q] == x[b, keys[i]]  # the answer is the stored value
            key = x[b, q - 3:q]  # the question's key fragments, then the statement's before its gap
            assert torch.equal(x[b, keys[i] - 4:keys[i] - 1], key) and x[b, keys[i] - 1] == probe.GAP
