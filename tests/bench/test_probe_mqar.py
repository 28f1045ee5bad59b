"""benchmarks/probe_mqar.py: the address loss's targets point at the statements the queries ask."""

from __future__ import annotations

import argparse

import torch

from by_path import benchmark


def test_each_query_is_addressed_to_the_value_token_of_the_statement_it_asks():
    probe = benchmark("probe_mqar")
    args = argparse.Namespace(S=32, nseg=2, ktok=3, gap=1, alpha=16, pairs=6, vtok=1)
    x, y, targets = probe.batch(args, 3, torch.Generator().manual_seed(0))
    assert [t[0] for t in targets] == [0, 1, 2]
    for b, keys, asks in targets:
        assert len(keys) == 6 and len(asks) == 6
        for q, i in asks:
            assert x[b, q] == probe.QUERY and y[b, q] == x[b, keys[i]]  # the answer is the stored value
            key = x[b, q - 3:q]  # the question's key fragments, then the statement's before its gap
            assert torch.equal(x[b, keys[i] - 4:keys[i] - 1], key) and x[b, keys[i] - 1] == probe.GAP


def test_a_value_of_several_tokens_is_asked_token_by_token_after_the_question():
    probe = benchmark("probe_mqar")
    args = argparse.Namespace(S=64, nseg=2, ktok=2, gap=1, alpha=16, pairs=5, vtok=3)
    x, y, targets = probe.batch(args, 2, torch.Generator().manual_seed(1))
    for b, firsts, asks in targets:
        assert len(asks) == 5
        for q, i in asks:
            value = x[b, firsts[i]:firsts[i] + 3]  # the statement's value: key, gap, then 3 tokens
            assert x[b, firsts[i] - 1] == probe.GAP and torch.equal(x[b, q - 2:q], x[b, firsts[i] - 3:firsts[i] - 1])
            assert torch.equal(y[b, q:q + 3], value)  # "?" is asked the first token, each token the next
            assert torch.equal(x[b, q + 1:q + 4], value) and y[b, q + 3] == -100
    assert (y != -100).sum() == 2 * 5 * 3


def test_value_scores_count_each_position_and_whole_values():
    probe = benchmark("probe_mqar")
    y = torch.full((1, 8), -100)
    y[0, 1:4] = torch.tensor([5, 6, 7])  # two questions of three value tokens
    y[0, 5:8] = torch.tensor([8, 9, 10])
    guess = torch.tensor([[0, 5, 6, 1, 0, 8, 9, 10]])  # the first value's last token wrong
    logits = torch.nn.functional.one_hot(guess, 11).float()
    by_pos, exact = probe.value_scores(logits, y, 3)
    assert by_pos.tolist() == [1.0, 1.0, 0.5] and exact.item() == 0.5
