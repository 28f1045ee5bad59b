"""benchmarks/probe_layer_knockout.py: a haystack cell's trials answered with each layer's memory zeroed."""

from __future__ import annotations

import torch

from docqa.bench.haystack import Haystack, run_cell
from docqa.model.config import ModelConfig
from docqa.model.io import load_model, save_model
from docqa.model.tokenizer import BPETokenizer
from docqa.model.transformer import InfiniTransformer
from docqa.train import phrasings as ph

from by_path import benchmark

PROSE = "The river winds through the valley, past mills and quiet farms. Each spring the ferry stops.\n"


def test_every_layer_row_is_the_bench_cells_answers(tmp_path):
    pk = benchmark("probe_layer_knockout")
    tok = BPETokenizer.train([PROSE * 3 + " ".join(ph.STATEMENTS + ph.QUESTIONS + ph.NAMES)], vocab_size=400)
    torch.manual_seed(0)
    save_model(InfiniTransformer(ModelConfig.from_name("test", vocab_size=tok.vocab_size, segment_len=32)),
               tok, tmp_path / "m")
    lm = load_model(tmp_path / "m")
    (tmp_path / "hay").mkdir()
    (tmp_path / "hay" / "a.txt").write_text(PROSE * 40)
    hay = Haystack(lm, [str(tmp_path / "hay")])
    trials = pk.knockout_answers(lm, hay, "facts=2", "train", 256, "spread", 3, 0)
    cell = run_cell(lm, hay, "facts=2", "train", 256, "spread", 3, 0)
    assert [t["answer"] for t in trials] == [m["answer"] for m in cell.misses]  # a random model misses all
    assert [t["got"][None] for t in trials] == [m["got"] for m in cell.misses]
    assert set(trials[0]["got"]) == {None, *range(lm.config.n_layer)}


def test_lost_counts_trials_right_with_every_layer_and_wrong_with_one_zeroed():
    pk = benchmark("probe_layer_knockout")
    trials = [{"answer": "a", "got": {None: "a", 0: "x", 1: "a"}},
              {"answer": "b", "got": {None: "b", 0: "x", 1: "x"}},
              {"answer": "c", "got": {None: "x", 0: "c", 1: "x"}}]  # right only with layer 0 zeroed: not lost
    assert pk.summary(trials, 2) == [("every layer", 2 / 3, 0), ("layer 0 zeroed", 1 / 3, 2),
                                     ("layer 1 zeroed", 1 / 3, 1)]
