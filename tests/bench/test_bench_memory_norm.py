"""benchmarks/bench_memory_norm.py reads ||M|| after every few segments of one stream: the rows
follow the stream, and memory_decay scales what earlier segments left before each write."""

from __future__ import annotations

import pytest
import torch

from docqa.model.config import ModelConfig
from docqa.model.transformer import InfiniTransformer

from by_path import benchmark


def bench_module():
    return benchmark("bench_memory_norm")


def model(decay: float) -> InfiniTransformer:
    torch.manual_seed(0)
    return InfiniTransformer(ModelConfig.from_name("test", segment_len=7, memory_decay=decay)).double().eval()


def test_rows_follow_the_stream_and_decay_leaves_only_the_last_segment():
    norms = bench_module().norms
    tokens = torch.randint(0, 256, (7 * 6,), generator=torch.Generator().manual_seed(1)).tolist()
    kept, forgot = norms(model(1.0), tokens, 1), norms(model(1e-9), tokens, 1)
    assert len(kept) == len(forgot) == 6
    assert kept[0] == pytest.approx(forgot[0])  # nothing before the first segment to decay
    heads = model(1.0).cfg.n_head
    for i in range(1, 6):  # layer 0's keys and values do not depend on the memory
        alone = norms(model(1.0), tokens[7 * i:7 * (i + 1)], 1)[0]
        assert forgot[i][:heads] == pytest.approx(alone[:heads], rel=1e-6)
        assert kept[i][:heads] != pytest.approx(alone[:heads], rel=1e-3)
