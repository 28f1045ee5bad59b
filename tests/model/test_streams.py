"""Batched streams (issue 14, item 2): memories whose pending tails differ, advanced together,
equal each stream ingested alone."""

from __future__ import annotations

import pytest
import torch

from docqa.errors import InputError
from docqa.model.config import ModelConfig
from docqa.model.streams import ingest_streams
from docqa.model.transformer import InfiniTransformer


def model_of(dtype, **kw):
    torch.manual_seed(0)
    cfg = ModelConfig.from_name("test", segment_len=7, **kw)
    model = InfiniTransformer(cfg).to(dtype).eval()
    with torch.no_grad():
        for blk in model.blocks:  # the memory matters to every output
            blk.attn.gate.copy_(torch.linspace(-1.0, 1.5, cfg.n_head))
    return model


def started(model, prefix_len, seed):
    """A memory part way into a stream: `prefix_len` tokens in, so its pending tail is prefix_len % 7."""
    g = torch.Generator().manual_seed(seed)
    return model.ingest(torch.randint(0, 256, (1, prefix_len), generator=g), model.new_memory(1))


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("update", ["token_delta", "delta"])
def test_batched_streams_equal_each_stream_alone(dtype, tol, update):
    model = model_of(dtype, update=update, feature_map="l2" if update == "token_delta" else "elu1")
    prefixes = [0, 3, 9, 20, 6]  # pending tails 0, 3, 2, 6, 6 and 0..2 segments written
    lengths = [100, 1, 45, 0, 64]  # a long one, one token, no tokens at all
    g = torch.Generator().manual_seed(1)
    streams = [torch.randint(0, 256, (1, n), generator=g) for n in lengths]
    memories = [started(model, p, seed) for seed, p in enumerate(prefixes)]
    before = [m.clone() for m in memories]
    together = ingest_streams(model, streams, memories, chunk_segments=3)
    for i, (s, m) in enumerate(zip(streams, before)):
        alone = model.ingest(s, m.clone(), chunk_segments=16)
        got = together[i]
        assert got.segments == alone.segments == (prefixes[i] + lengths[i]) // 7, i
        assert torch.equal(got.pending, alone.pending), i
        for a, b in zip(got.layers, alone.layers):
            assert a.M.dtype == b.M.dtype == dtype and a.M.shape == b.M.shape
            torch.testing.assert_close(a.M, b.M, rtol=tol, atol=tol)
            torch.testing.assert_close(a.z, b.z, rtol=tol, atol=tol)
    assert all(a.equal(b) for a, b in zip(memories, before)), "the memories given are not modified"


def test_batched_calls_share_the_layers():
    """Streams of the same length go through the layers together: one call per chunk, not one
    per stream (what makes batching pay)."""
    model = model_of(torch.float32)
    calls = []
    hidden = model.hidden
    model.hidden = lambda tokens, memory, use_memory: calls.append(tokens.shape) or hidden(tokens, memory, use_memory)
    streams = [torch.randint(0, 256, (1, 70)) for _ in range(8)]
    out = ingest_streams(model, streams, [model.new_memory(1) for _ in range(8)], chunk_segments=4)
    assert calls == [(8, 28), (8, 28), (8, 14)]
    assert [m.segments for m in out] == [10] * 8


def test_bad_arguments_fail_loudly():
    model = model_of(torch.float32)
    one = model.new_memory(1)
    with pytest.raises(InputError, match="2 streams but 1 memories"):
        ingest_streams(model, [torch.zeros(1, 3, dtype=torch.long)] * 2, [one])
    with pytest.raises(InputError, match="stream 0: want tokens \\(1, T\\) and a memory of batch 1, got tokens "
                                         "\\(2, 3\\) and a memory of batch 2"):
        ingest_streams(model, [torch.zeros(2, 3, dtype=torch.long)], [model.new_memory(2)])
    with pytest.raises(InputError, match="chunk_segments=0 must be at least 1"):
        ingest_streams(model, [torch.zeros(1, 3, dtype=torch.long)], [one], chunk_segments=0)
