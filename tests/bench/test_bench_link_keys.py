"""benchmarks/bench_link_keys.py: write strength and key rank of a needle's value, per frame."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from docqa.bench.haystack import Haystack
from docqa.model.base import LoadedModel
from docqa.model.config import ModelConfig
from docqa.model.tokenizer import BPETokenizer
from docqa.model.transformer import InfiniTransformer
from docqa.train import phrasings as ph

from by_path import benchmark

PROSE = "The river winds through the valley, past mills and quiet farms.\n"


@pytest.fixture(scope="module")
def lm_hay(tmp_path_factory):
    tok = BPETokenizer.train([PROSE * 3 + " ".join(ph.STATEMENTS + ph.QUESTIONS + ph.SUBJECTS)], vocab_size=400)
    torch.manual_seed(0)
    cfg = ModelConfig.from_name("test", vocab_size=tok.vocab_size, segment_len=16, write_strength=True)
    model = InfiniTransformer(cfg).eval()
    prose = tmp_path_factory.mktemp("hay") / "prose.txt"
    prose.write_text(PROSE * 120)
    lm = LoadedModel(model, tok, model.cfg, "0" * 64, Path("."))
    return lm, Haystack(lm, [str(prose)])


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
