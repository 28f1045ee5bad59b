"""Memory.knocked_out: the per-layer control of the recall probes (bench_wear, probe_layer_knockout,
bench_sources_layers)."""

import torch

from docqa.model.config import ModelConfig
from docqa.model.transformer import InfiniTransformer


def test_knocking_out_a_layer_zeroes_it_alone_in_a_copy():
    model = InfiniTransformer(ModelConfig.from_name("test", vocab_size=64, n_layer=3))
    memory = model.new_memory(1)
    g = torch.Generator().manual_seed(0)
    for layer in memory.layers:  # every layer holds something, so a zeroed one shows
        layer.M.copy_(torch.randn(layer.M.shape, generator=g))
        layer.z.copy_(torch.rand(layer.z.shape, generator=g))
    before = memory.clone()
    out = memory.knocked_out(1)
    assert memory.equal(before)
    assert not out.layers[1].M.any() and not out.layers[1].z.any()
    for i in (0, 2):
        assert torch.equal(out.layers[i].M, memory.layers[i].M) and torch.equal(out.layers[i].z, memory.layers[i].z)
        assert out.layers[i].M is not memory.layers[i].M  # a copy: an answer's forward cannot touch the snapshot
    assert memory.knocked_out(None).equal(memory) and memory.knocked_out(None).layers[0].M is not memory.layers[0].M
