"""A converted Hugging Face checkpoint (docqa/model/hf.py) against the base model and docqa's
float64 reference, on tiny random checkpoints built by the fixtures (tests/model/conftest.py)."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")

from transformers import AutoModelForCausalLM  # noqa: E402

from docqa.memory import Memory  # noqa: E402
from docqa.model import hf  # noqa: E402
from docqa.model.io import load_model  # noqa: E402
from docqa.model.naive import naive_write, rotate, sigma  # noqa: E402

ARCHS = ["llama", "qwen2", "qwen3", "mistral"]


def base_model(path):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True).eval()


def n_base_tokens(path) -> int:
    """The checkpoint's own tokens: the rows conversion leaves alone (docqa's special tokens come after)."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path / "tokenizer.json")).get_vocab_size(with_added_tokens=True)


def stream(n: int, vocab: int = 250, batch: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, n), generator=torch.Generator().manual_seed(seed))


def with_memory_params(model: hf.HFInfini, seed: int = 0) -> hf.HFInfini:
    """Gates away from their init, unequal per head, and a write strength that varies by token."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for br in model.branches:
            br.gate.copy_(torch.linspace(-1.0, 1.5, br.gate.numel()))
            br.write_strength.weight.copy_(torch.randn(br.write_strength.weight.shape, generator=g))
    return model


@pytest.mark.parametrize("arch", ARCHS)
def test_memory_off_segments_are_the_base_model_on_each_segment(arch, hf_checkpoint, converted):
    # One segment as long as the input: the base model's logits. Several segments: each one is
    # the base model run on that segment alone (positions restart, nothing crosses a boundary).
    base, V = base_model(hf_checkpoint(arch)), n_base_tokens(hf_checkpoint(arch))
    lm = load_model(converted(arch, 8))
    tokens = stream(8, batch=2)
    with torch.no_grad():
        logits, _ = lm.model(tokens, use_memory=False)
        torch.testing.assert_close(logits[..., :V], base(tokens).logits[..., :V], rtol=0, atol=1e-5)
        long = stream(20, batch=2, seed=1)
        logits, memory = lm.model(long, use_memory=False)
        for s0 in (0, 8, 16):
            ref = base(long[:, s0:s0 + 8]).logits[..., :V]
            torch.testing.assert_close(logits[:, s0:s0 + 8, :V], ref, rtol=0, atol=1e-5)
    assert memory.segments == 2 and torch.equal(memory.pending, long[:, 16:])
    assert all(not m.M.any() and not m.z.any() for m in memory.layers)


def test_a_fresh_conversion_is_the_base_model_with_attention_scaled_by_the_gate(hf_checkpoint, converted):
    # Eq. 10 with the empty memory of the first segment: (1 - sigmoid(GATE_INIT)) of the base
    # attention output. So the base model with its output projections scaled by that factor
    # gives the same logits, and the factor is within 0.3% of 1.
    keep = 1 - 1 / (1 + math.exp(-hf.GATE_INIT))
    assert 0.997 < keep < 1
    base = base_model(hf_checkpoint("llama"))
    with torch.no_grad():
        for layer in base.model.layers:
            layer.self_attn.o_proj.weight.mul_(keep)
    lm = load_model(converted("llama", 8))
    tokens = stream(8, batch=2)
    with torch.no_grad():
        logits, _ = lm.model(tokens)
        V = n_base_tokens(hf_checkpoint("llama"))
        torch.testing.assert_close(logits[..., :V], base(tokens).logits[..., :V], rtol=0, atol=1e-5)


def naive_layer(model: hf.HFInfini, i: int, h: torch.Tensor):
    """One converted attention layer for one stream, straight from the equations in float64:
    h (T, C) -> output (T, C) and the per-KV-head memory (M (H_kv, D, D), z (H_kv, D))."""
    cfg, S, T, D = model.cfg, model.segment_len, h.shape[0], model.head_dim
    attn, G = model.layers[i].self_attn, model.n_head // model.n_kv
    theta = model.lm.config.rope_parameters["rope_theta"]
    q, k, v, beta = model.project(i, h)  # the same q/k/v the fast path uses: (H, T, D), (H_kv, T, D)
    mems = []  # per KV head: the (M, z) each segment reads, then the final one
    for kv in range(model.n_kv):
        M, z, seen = torch.zeros(D, D, dtype=h.dtype), torch.zeros(D, dtype=h.dtype), []
        for s0 in range(0, T, S):
            seen.append((M, z))
            seg = range(s0, min(s0 + S, T))
            if len(seg) == S:  # a partial segment is read, not written
                M, z = naive_write(cfg, M, z, [sigma(k[kv, j], cfg.feature_map) for j in seg],
                                   [v[kv, j] for j in seg], [beta[kv, j] for j in seg])
        mems.append((seen, M, z))
    heads = []
    for hq in range(model.n_head):
        kv, g, out = hq // G, torch.sigmoid(model.branches[i].gate[hq]), torch.zeros(T, D, dtype=h.dtype)
        for t in range(T):
            s0 = t // S * S
            qt = rotate(q[hq, t], t - s0, theta)
            scores = torch.stack([qt @ rotate(k[kv, j], j - s0, theta) for j in range(s0, t + 1)]) * attn.scaling
            a_dot = torch.softmax(scores, 0) @ v[kv, s0:t + 1]  # eq. 6
            a_mem = sigma(q[hq, t], cfg.feature_map) @ mems[kv][0][t // S][0]  # eq. 7 (l2: no z)
            out[t] = g * a_mem + (1 - g) * a_dot  # eq. 10
        heads.append(out)
    y = attn.o_proj(torch.cat(heads, 1))
    return y, torch.stack([m[1] for m in mems]), torch.stack([m[2] for m in mems])


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_memory_path_matches_the_float64_reference(arch, converted):
    lm = load_model(converted(arch, 8))
    model = with_memory_params(lm.model).double()
    S, C, T = 8, model.lm.config.hidden_size, 29  # 3 full segments and a partial one
    h = torch.randn(T, C, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    n_seg = -(-T // S)
    x = torch.nn.functional.pad(h, (0, 0, 0, n_seg * S - T)).view(1, n_seg, S, C)
    cos, sin = model._rotary(x, torch.arange(S))
    for i in range(len(model.layers)):
        mem = model.new_memory(1).layers[i]
        y, new = model._attention(i, x, cos, sin, mem, T // S, use_memory=True)
        ref_y, ref_M, ref_z = naive_layer(model, i, h)
        torch.testing.assert_close(new.M[0], ref_M, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(new.z[0], ref_z, rtol=1e-9, atol=1e-9)
        assert new.M.shape == (1, model.n_kv, model.head_dim, model.head_dim)  # one memory per KV head
        assert ref_M.abs().max() > 0.1  # the memory was written
        # transformers builds its rotary tables in float32, so the local attention agrees to 1e-6
        torch.testing.assert_close(y.reshape(-1, C)[:T], ref_y, rtol=0, atol=1e-6)
        with torch.no_grad():  # gates at sigmoid(40) = 1.0: the memory read alone, to float64 precision
            model.branches[i].gate.fill_(40.0)
        y, _ = model._attention(i, x, cos, sin, mem, T // S, use_memory=True)
        ref_y, _, _ = naive_layer(model, i, h)
        torch.testing.assert_close(y.reshape(-1, C)[:T], ref_y, rtol=1e-9, atol=1e-9)
        assert ref_y[S:].abs().max() > 0.1  # segments after the first read something


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_any_split_of_the_stream_equals_one_call(arch, converted):
    model = with_memory_params(load_model(converted(arch, 8)).model)
    tokens = stream(61, batch=2)
    whole = model.ingest(tokens, model.new_memory(2))
    for cuts, chunk in [((3, 11, 12, 40), 16), ((8, 16, 24), 1), ((1,), 2)]:
        memory = model.new_memory(2)
        for a, b in zip((0, *cuts), (*cuts, 61)):
            memory = model.ingest(tokens[:, a:b], memory, chunk_segments=chunk)
        assert memory.segments == whole.segments == 7 and torch.equal(memory.pending, whole.pending)
        for m, w in zip(memory.layers, whole.layers):
            torch.testing.assert_close(m.M, w.M, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(m.z, w.z, rtol=1e-5, atol=1e-6)
    assert whole.layers[0].M.abs().max() > 0.1


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_cached_decoding_equals_a_full_forward(arch, converted):
    model = with_memory_params(load_model(converted(arch, 8)).model)
    memory = model.ingest(stream(21), model.new_memory(1))  # 2 segments written, 5 tokens pending
    before = memory.clone()
    prompt, more = stream(6, seed=1), stream(14, seed=2)  # crosses two segment boundaries
    decoder = model.decoder(memory)
    got = [decoder.feed(prompt)] + [decoder.feed(more[:, j:j + 1]) for j in range(more.shape[1])]
    with torch.no_grad():
        for j, logits in enumerate(got):
            full, _ = model(torch.cat([prompt, more[:, :j]], 1), memory)
            torch.testing.assert_close(logits, full[:, -1], rtol=1e-5, atol=1e-5)
        off, _ = model(torch.cat([prompt, more], 1), memory, use_memory=False)
    assert memory.equal(before)  # decoding never writes the memory it was given
    assert not torch.allclose(off[:, -1], got[-1], atol=1e-3)  # and the memory mattered
    plain = model.decoder(memory, use_memory=False)
    torch.testing.assert_close(plain.feed(torch.cat([prompt, more], 1)), off[:, -1], rtol=1e-5, atol=1e-5)


def test_save_and_load_round_trip_without_rehashing(converted, tmp_path, monkeypatch):
    lm = load_model(converted("qwen2", 8))
    model = with_memory_params(lm.model, seed=5)
    fp = hf.save_converted(model, lm.tokenizer, tmp_path / "trained")
    assert fp != lm.fingerprint  # new memory parameters, a new fingerprint
    monkeypatch.setattr(hf, "hash_files", lambda *a: pytest.fail("load_model rehashed the weights"))
    again = load_model(tmp_path / "trained")
    assert again.fingerprint == fp and again.name == f"{lm.config.name}@{fp[:12]}" == f"hf-qwen20@{fp[:12]}"
    tokens = stream(19, batch=2)
    with torch.no_grad():
        a, ma = model(tokens)
        b, mb = again.model(tokens)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert ma.equal(mb)
    for k, v in model.branches.state_dict().items():
        assert torch.equal(v, again.model.branches.state_dict()[k]), k


def test_a_changed_file_is_refused(converted, tmp_path):
    import shutil

    d = shutil.copytree(converted("llama", 8), tmp_path / "m")
    with open(d / "memory.safetensors", "ab") as f:
        f.write(b" ")
    with pytest.raises(hf.ModelLoadError, match="changed since it was written .*memory.safetensors"):
        load_model(d)


def test_conversion_is_deterministic_and_names_the_segment(hf_checkpoint, converted, tmp_path):
    a = load_model(converted("llama", 8))
    assert hf.convert(hf_checkpoint("llama"), tmp_path / "again", segment_len=8) == a.fingerprint
    assert load_model(converted("llama", 16)).fingerprint != a.fingerprint


def test_new_memory_is_per_kv_head(converted):
    model = load_model(converted("qwen2", 8)).model
    memory = model.new_memory(3)
    assert isinstance(memory, Memory) and len(memory.layers) == 2
    assert memory.layers[0].M.shape == (3, 2, 8, 8) and memory.layers[0].z.shape == (3, 2, 8)
    assert memory.layers[0].M.dtype == torch.float32
