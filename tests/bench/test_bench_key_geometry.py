"""benchmarks/bench_key_geometry.py: the spread statistics, and the keys it reads are the memory's."""

from __future__ import annotations

import pytest
import torch

from docqa.model.center import fit_memory_center
from docqa.model.config import ModelConfig
from docqa.model.transformer import InfiniTransformer

from by_path import benchmark


def bench_module():
    return benchmark("bench_key_geometry")


def test_spread_of_identical_keys_and_of_an_orthonormal_basis():
    spread = bench_module().spread
    same = spread(torch.nn.functional.normalize(torch.ones(5, 4, dtype=torch.float64), dim=-1))
    assert same == pytest.approx({"mean": 1.0, "cos": 1.0, "pr": 1.0})
    basis = spread(torch.eye(4, dtype=torch.float64))
    assert basis == pytest.approx({"mean": 0.5, "cos": 0.0, "pr": 4.0})


def test_rows_are_the_memory_keys_so_fitted_centres_remove_the_shared_direction():
    torch.manual_seed(0)
    cfg = ModelConfig.from_name("test", segment_len=8, memory_center=True)
    model = InfiniTransformer(cfg).double().eval()
    with torch.no_grad():  # centres far from the mean: every memory key shares one direction, as in trained models
        for b in model.blocks:
            b.attn.mem_center.normal_(0.0, 1.0)
    tokens = torch.randint(0, 256, (64,), generator=torch.Generator().manual_seed(1)).tolist()
    geometry = bench_module().key_geometry
    before = geometry(model, tokens)
    assert len(before) == cfg.n_layer * cfg.n_head
    fit_memory_center(model, torch.tensor([tokens]))
    after = geometry(model, tokens)
    for b, a in zip(before, after):
        assert b["key_cos"] > 0.9 and b["key_pr"] < 1.5 and abs(a["key_cos"]) < 0.1 and a["key_pr"] > 3
