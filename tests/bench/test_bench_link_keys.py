"""benchmarks/bench_link_keys.py: write strength and key rank of a needle's value, per frame."""

from __future__ import annotations

import pytest
import torch

from by_path import ROOT, benchmark
from docqa.model.tokenizer import load_tokenizer
from prose_model import prose_haystack, tiny_prose_lm


@pytest.fixture(scope="module")
def lm_hay(tmp_path_factory):
    lm = tiny_prose_lm()
    return lm, prose_haystack(lm, tmp_path_factory.mktemp("hay"))


def test_a_cell_per_layer_and_head_with_beta_a_strength_and_rank_within_the_text(lm_hay):
    bench = benchmark("bench_link_keys")
    lm, hay = lm_hay
    frames = ["The {s} is {v}.", "The {s} reads {v}."]
    rows = bench.link_rows(lm, hay, frames, 128, 3)
    assert list(rows) == frames
    for cells in rows.values():
        assert len(cells) == lm.config.n_layer * lm.config.n_head
        assert all(0.0 <= b <= 1.0 and 0 <= r < 128 for b, r in cells)
    assert rows[frames[0]] != rows[frames[1]]  # the verb is in the keys' window: the frames differ
    table = bench.table(rows, lm.config.n_head).splitlines()
    assert table[0].startswith("| frame | 0.0 beta / rank |") and len(table) == 2 + len(frames)


@pytest.mark.parametrize("by, expected", [("cos", 5), ("neg", 0), ("abs", 1)])
def test_keys_rank_by_the_cosine_by_minus_it_or_by_its_size(by, expected):
    """The value's key (token 2, cosine -0.9) among text at 0.5, -0.2, 0.1, 0.95, 0.05: by cosine all
    five are above it; by minus it nothing is below -0.9; by size only 0.95 is above 0.9."""
    bench = benchmark("bench_link_keys")
    cos = torch.tensor([0.5, -0.2, -0.9, 0.1, 0.95, 0.05], dtype=torch.float64)
    assert bench.rank(cos, 2, by) == expected


@pytest.mark.parametrize("value, lead, key", [("48213", 1, "482"), ("zebra", 0, " z")])
def test_the_probe_reads_where_answering_predicts_the_values_first_informative_token(value, lead, key):
    """A value of digits starts with a " " of its own: its key is the digits' first token, read by the
    query at the " " answering writes after <|answer|> (the address loss's query), not at <|answer|>."""
    bench = benchmark("bench_link_keys")
    tok = load_tokenizer(ROOT / "checkpoints" / "bpe-c2" / "tokenizer.json")
    stream = tok.encode("Some text. The door code is " + value + ". More text.")
    tokens, at = bench.probe(tok, stream, value, "What is the door code?")
    assert tok.decode([stream[at]]) == key
    opens = tok.encode("<|answer|>", allow_special=True)[0]
    assert tokens[:len(stream)] == stream and tokens[-1 - lead] == opens
    assert tokens[len(tokens) - lead:] == tok.encode(tok.answer_prefix + value)[:lead]
