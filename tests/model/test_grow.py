import pytest
import torch

from docqa.errors import ConfigError
from docqa.model.config import ModelConfig
from docqa.model.io import grow_model, load_model, save_model
from docqa.model.tokenizer import ByteTokenizer
from docqa.model.transformer import InfiniTransformer

GATED = dict(short_conv=4, write_threshold=0.3, write_window=1, write_gate_layers=[1],
             write_threshold_per_layer=[0.3, 0.4], write_floor_per_layer=[0, 2])


def saved(tmp_path, **cfg):
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test", **cfg))
    with torch.no_grad():  # write strengths spread over (0, 1), so the gate cuts some
        for blk in model.blocks:
            blk.attn.write_strength.weight.normal_(0.0, 1.0)
    save_model(model, ByteTokenizer(), tmp_path / "m")
    return tmp_path / "m"


@pytest.mark.parametrize("cfg", [GATED, {}])
def test_a_grown_model_computes_what_it_grew_from_and_its_new_layer_writes(tmp_path, cfg):
    src = saved(tmp_path, **cfg)
    grow_model(src, tmp_path / "g", seed=1)
    a, b = load_model(src), load_model(tmp_path / "g")
    assert b.config.n_layer == a.config.n_layer + 1
    tokens = torch.randint(0, 256, (2, 5 * a.config.segment_len + 3))  # segments, then a pending tail
    with torch.no_grad():
        la, ma = a.model(tokens)
        lb, mb = b.model(tokens)
    assert torch.allclose(la, lb, atol=1e-6)
    for old, new in zip(ma.layers, mb.layers):
        assert torch.equal(old.M, new.M)
    assert mb.layers[-1].M.abs().sum() > 0  # its memory fills, ready to be read once it is trained
    assert mb.layers[-1].M.dtype == torch.float32


def test_the_new_layer_takes_the_top_layers_gate(tmp_path):
    grow_model(saved(tmp_path, **GATED), tmp_path / "g")
    c = load_model(tmp_path / "g").config
    assert c.write_gate_layers == [1, 2]
    assert c.write_threshold_per_layer == [0.3, 0.4, 0.4] and c.write_floor_per_layer == [0, 2, 2]
    grow_model(saved(tmp_path, **{**GATED, "write_gate_layers": [0]}), tmp_path / "g0")
    assert load_model(tmp_path / "g0").config.write_gate_layers == [0]  # the top layer was ungated


def test_the_new_layer_learns_from_the_first_step(tmp_path):
    # Zero output projections give the block no effect, not no gradient: they are the first to move.
    grow_model(saved(tmp_path, **GATED), tmp_path / "g")
    model = load_model(tmp_path / "g").model.train()
    tokens = torch.randint(0, 256, (2, 3 * model.cfg.segment_len))
    logits, _ = model(tokens)
    torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten()).backward()
    top = model.blocks[-1]
    assert top.attn.proj.weight.grad.abs().sum() > 0 and top.mlp.fc2.weight.grad.abs().sum() > 0


def test_a_seed_picks_the_new_layers_draw_and_leaves_the_callers_random_state(tmp_path):
    src = saved(tmp_path, **GATED)
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    grow_model(src, tmp_path / "g1", seed=1)
    assert torch.equal(torch.rand(1), before)
    grow_model(src, tmp_path / "g2", seed=2)
    grow_model(src, tmp_path / "g1b", seed=1)
    qkv = lambda d: load_model(tmp_path / d).model.blocks[-1].attn.qkv.weight
    assert torch.equal(qkv("g1"), qkv("g1b")) and not torch.equal(qkv("g1"), qkv("g2"))


def test_a_converted_model_is_refused(tmp_path):
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "docqa.json").write_text("{}")
    with pytest.raises(ConfigError, match="is a converted model; only docqa.s own models grow"):
        grow_model(tmp_path / "hf", tmp_path / "g")


def test_a_next_value_block_grows_on_top_and_still_starts_as_the_identity(tmp_path):
    src = saved(tmp_path, **GATED)
    grow_model(src, tmp_path / "g", seed=1, next_value=True)
    a, b = load_model(src), load_model(tmp_path / "g")
    assert b.config.next_value_layers == [a.config.n_layer] and a.config.next_value_layers is None
    assert [blk.attn.next_value for blk in b.model.blocks] == [False] * a.config.n_layer + [True]
    tokens = torch.randint(0, 256, (1, 3 * a.config.segment_len))
    with torch.no_grad():
        la, _ = a.model(tokens)
        lb, mb = b.model(tokens)
    assert torch.allclose(la, lb, atol=1e-6) and mb.layers[-1].M.abs().sum() > 0
