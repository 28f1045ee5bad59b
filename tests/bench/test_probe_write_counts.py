"""benchmarks/probe_write_counts.py --places: the tokens a layer writes, and nothing where its gate drops them."""

from __future__ import annotations

import torch

from by_path import benchmark
from docqa.model.center import memory_projections
from prose_model import PROSE, tiny_prose_lm


def test_places_are_the_written_tokens_in_their_words_and_a_closed_gate_leaves_none():
    probe = benchmark("probe_write_counts")
    lm = tiny_prose_lm()
    tokens = lm.tokenizer.encode(PROSE * 2)[:64]
    beta = memory_projections(lm.model, torch.tensor([tokens]))[1][2][0]  # layer 1's (H, T)
    places = probe.write_places(lm.tokenizer, tokens, beta)
    assert len(places) == int((beta > 0).sum()) > 0  # the random ungated model writes
    for h, i, b, words in places:
        assert b == float(beta[h, i]) > 0
        assert f"[{lm.tokenizer.decode(tokens[i:i + 1])}]" in words
    assert [h for h, *_ in places] == sorted(h for h, *_ in places)  # head by head
    lm.model.cfg.write_threshold = 0.999  # every write under the threshold is dropped
    lm.model.cfg.write_window = 0
    closed = memory_projections(lm.model, torch.tensor([tokens]))[1][2][0]
    assert probe.write_places(lm.tokenizer, tokens, closed) == []
