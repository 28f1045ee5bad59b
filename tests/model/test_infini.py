"""The fast Infini-attention path against the float64 reference and the paper's limiting cases."""

import itertools
import json
from dataclasses import replace

import pytest
import torch

from docqa.errors import ConfigError
from docqa.memory import Memory
from docqa.model.config import ModelConfig
from docqa.model.infini import feature_map, rope
from docqa.model.naive import naive_forward
from docqa.model.transformer import Decoder, InfiniTransformer
from docqa.model.write_gate import quiet_mask, write_gate

VARIANTS = [
    dict(feature_map="elu1", update="linear", write_strength=False),
    dict(feature_map="elu1", update="delta", write_strength=False),
    dict(feature_map="elu1", update="delta", write_strength=True),
    dict(feature_map="l2", update="linear", write_strength=True),
    dict(feature_map="l2", update="delta", write_strength=True),
    dict(feature_map="l2", update="token_delta", write_strength=True),
    dict(feature_map="l2", update="token_delta", write_strength=False),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, memory_qk=True),
    dict(feature_map="l2", update="token_delta", write_strength=True, memory_decay=0.8),
    dict(feature_map="elu1", update="delta", write_strength=True, memory_decay=0.8),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, memory_center=True),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, memory_center=True,
         memory_whiten=True),
    # a floor under a threshold nothing clears at init (betas ~0.5): the floor alone decides layer 1's
    # writes, and layer 0 keeps only what clears 0.5 (and its window), with quiet spans among them
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, write_threshold=0.5,
         write_window=1, write_skip=1, write_threshold_per_layer=[0.5, 0.95], write_floor_per_layer=[1, 2],
         quiet_open=list(range(24)), quiet_close=list(range(24, 64))),
    # next-value layers: every layer, one of two under a gate with quiet spans, and the segment-level rule
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, next_value_layers=[0, 1]),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, write_threshold=0.3,
         write_window=1, write_skip=1, write_gate_layers=[1], quiet_open=list(range(24)),
         quiet_close=list(range(24, 64)), next_value_layers=[1]),
    dict(feature_map="elu1", update="delta", write_strength=True, next_value_layers=[0]),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, write_threshold=0.5),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, write_threshold=0.5,
         write_window=2, write_gate_layers=[1]),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, write_threshold=0.5,
         write_window=1, write_threshold_per_layer=[0.3, 0.6]),
    # quiet spans among random tokens 0..255: about one token in ten opens one, one in six closes it
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3,
         quiet_open=list(range(24)), quiet_close=list(range(24, 64))),
    dict(feature_map="l2", update="delta", write_strength=False, quiet_open=list(range(24)),
         quiet_close=list(range(24, 64))),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, write_threshold=0.3,
         write_window=1, write_skip=1, write_gate_layers=[1], quiet_open=list(range(24)),
         quiet_close=list(range(24, 64))),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, write_threshold=0.3,
         write_window=1, write_skip=2),
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3, write_threshold=0.5,
         write_window=2),
]
WINDOW = VARIANTS[-1]
SKIP = VARIANTS[-2]  # threshold 0.3, window 1, write_skip 2
QUIET = VARIANTS[-3]  # quiet spans under a gate on layer 1
QUIET_PLAIN = VARIANTS[-5]  # quiet spans, no gate
PER_LAYER = VARIANTS[-6]  # thresholds 0.3 and 0.6, window 1
FLOOR = VARIANTS[13]  # write_floor_per_layer [1, 2] under thresholds 0.5 and 0.95, quiet spans
NEXT = VARIANTS[14:17]  # next_value_layers


def make(seed=0, dtype=torch.float64, **kw):
    torch.manual_seed(seed)
    cfg = ModelConfig.from_name("test", segment_len=7, **kw)
    model = InfiniTransformer(cfg).to(dtype)
    with torch.no_grad():  # gates away from 0 so both paths of eq. 10 matter, unequal per head
        for blk in model.blocks:
            blk.attn.gate.copy_(torch.linspace(-1.0, 1.5, cfg.n_head))
            if cfg.short_conv:  # away from the identity it starts at, so the taps matter
                blk.attn.conv.normal_(0.0, 0.5)
            if cfg.memory_qk:  # away from the zero it starts at, so the memory's own q, k differ
                blk.attn.mem_qk.weight.normal_(0.0, 0.3)
            if cfg.memory_center:  # away from the zero it starts at
                blk.attn.mem_center.normal_(0.0, 0.5)
            if cfg.memory_whiten:  # away from the identity: a random covariance
                a = torch.randn(2, cfg.n_head, cfg.d_head, cfg.d_head)
                blk.attn.mem_cov.copy_(a @ a.transpose(-1, -2) / cfg.d_head)
    return model.eval()  # memory_center centres by the stored means only outside training


def ids(vid):  # a long list (quiet spans' ids) by its length
    return "-".join(f"{len(v)}ids" if isinstance(v, list) and len(v) > 3 else str(v) for v in vid.values())


@pytest.mark.parametrize("variant", VARIANTS, ids=ids)
def test_fast_path_matches_float64_reference(variant):
    model = make(**variant)
    tokens = torch.randint(0, 256, (2, 26))  # 3 full segments of 7 and a partial one
    logits, memory = model(tokens)
    ref_logits, ref_mems = naive_forward(model, tokens)
    torch.testing.assert_close(logits, ref_logits, rtol=1e-9, atol=1e-9)
    for layer, mem in enumerate(memory.layers):
        for b in range(2):
            torch.testing.assert_close(mem.M[b], ref_mems[b][layer][0], rtol=1e-9, atol=1e-9)
            torch.testing.assert_close(mem.z[b], ref_mems[b][layer][1], rtol=1e-9, atol=1e-9)

    w = torch.randn_like(logits)
    grads = torch.autograd.grad((logits * w).sum(), list(model.parameters()))
    ref_grads = torch.autograd.grad((ref_logits * w).sum(), list(model.parameters()))
    for (name, _), g, rg in zip(model.named_parameters(), grads, ref_grads):
        torch.testing.assert_close(g, rg, rtol=1e-6, atol=1e-7, msg=lambda m: f"{name}: {m}")


def segment_outputs(model, tokens, gate):
    attn = model.blocks[0].attn
    with torch.no_grad():
        attn.gate.fill_(gate)
    x = model.emb(tokens)
    return attn, x, attn(x, model.new_memory(tokens.shape[0]).layers[0])[0]


def test_gate_to_minus_inf_is_plain_causal_attention_per_segment():
    model = make()
    tokens = torch.randint(0, 256, (1, 21))
    attn, x, y = segment_outputs(model, tokens, -1e4)
    S = model.cfg.segment_len
    for s0 in range(0, 21, S):  # each segment alone, no memory: identical outputs
        alone, _ = attn(x[:, s0:s0 + S], model.new_memory(1).layers[0], use_memory=False)
        torch.testing.assert_close(y[:, s0:s0 + S], alone, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("variant", [VARIANTS[0], VARIANTS[5]], ids=ids)
def test_gate_to_plus_inf_is_the_memory_read_alone(variant):
    model = make(**variant)
    cfg = model.cfg
    tokens = torch.randint(0, 256, (1, 21))
    attn, x, y = segment_outputs(model, tokens, 1e4)
    S, H, D = cfg.segment_len, cfg.n_head, cfg.d_head
    mem = model.new_memory(1).layers[0]
    for s0 in range(0, 21, S):
        seg = x[:, s0:s0 + S]
        q = (seg @ attn.qkv.weight[: cfg.d_model].T).view(1, S, H, D).transpose(1, 2)
        sq = feature_map(q, cfg.feature_map)
        read = sq @ mem.M
        if cfg.use_z:
            den = sq @ mem.z.unsqueeze(-1)
            read = read / torch.where(den == 0, torch.ones_like(den), den)
        expect = attn.proj(read.transpose(1, 2).reshape(1, S, cfg.d_model))
        torch.testing.assert_close(y[:, s0:s0 + S], expect, rtol=1e-9, atol=1e-10)
        _, mem = attn(seg, mem)  # advance the memory by this segment


def test_linear_rule_read_equals_direct_recomputation_from_all_past_keys_and_values():
    model = make(feature_map="elu1", update="linear", write_strength=False)
    cfg = model.cfg
    attn = model.blocks[0].attn
    x = model.emb(torch.randint(0, 256, (1, 28)))
    _, mem = attn(x, model.new_memory(1).layers[0])
    _, k, v, _ = attn._project(x)  # (1, H, T, D)
    sk = feature_map(k, "elu1")
    M_direct = sum(torch.einsum("hk,hv->hkv", sk[0, :, t], v[0, :, t]) for t in range(28))
    z_direct = sk[0].sum(1)
    torch.testing.assert_close(mem.M[0], M_direct, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(mem.z[0], z_direct, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("variant", [VARIANTS[1], VARIANTS[5], VARIANTS[7], VARIANTS[8], VARIANTS[9], VARIANTS[10],
                                     WINDOW, SKIP, QUIET, QUIET_PLAIN, PER_LAYER, FLOOR], ids=ids)
def test_streaming_in_any_split_equals_one_call(variant):
    model = make(**variant)
    tokens = torch.randint(0, 256, (1, 40))
    logits, whole = model(tokens)
    # one segment at a time through forward(): same logits, same memory
    mem, parts = model.new_memory(1), []
    for s0 in range(0, 40, 7):
        lg, mem = model(tokens[:, s0:s0 + 7], mem)
        parts.append(lg)
    torch.testing.assert_close(torch.cat(parts, 1), logits, rtol=1e-10, atol=1e-12)
    # ingest() in awkward pieces and chunk sizes: same memory and pending tail
    for cuts, chunk in [((40,), 16), ((3, 11, 12, 14), 1), ((1,) * 40, 2)]:
        mem, start = model.new_memory(1), 0
        for n in cuts:
            mem = model.ingest(tokens[:, start:start + n], mem, chunk_segments=chunk)
            start += n
        assert mem.segments == 5 and torch.equal(mem.pending, tokens[:, 35:])
        for a, b in zip(mem.layers, whole.layers):
            torch.testing.assert_close(a.M, b.M, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(a.z, b.z, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("variant", [VARIANTS[1], VARIANTS[5], VARIANTS[7], VARIANTS[8], VARIANTS[9], VARIANTS[10],
                                     WINDOW, SKIP, QUIET, QUIET_PLAIN, PER_LAYER, FLOOR, *NEXT], ids=ids)
def test_cached_decoding_equals_full_forward(variant):
    model = make(**variant)
    history = torch.randint(0, 256, (1, 17))  # 2 segments in memory, 3 tokens pending
    memory = model.ingest(history, model.new_memory(1))
    frozen = memory.clone()
    new = torch.randint(0, 256, (1, 20))
    full_logits, _ = model(torch.cat([history, new], 1))
    dec = Decoder(model, memory)
    got = [dec.feed(new[:, :5])]  # a prompt piece, then one token at a time across 2 boundaries
    got += [dec.feed(new[:, i:i + 1]) for i in range(5, 20)]
    expect = full_logits[0, 17 + 4:]
    torch.testing.assert_close(torch.cat(got), expect, rtol=1e-9, atol=1e-9)
    assert memory.equal(frozen), "decoding must not modify the memory it reads"
    assert dec.state.memory.segments == 5


def test_outputs_are_causal_across_segments():
    model = make()
    a = torch.randint(0, 256, (1, 28))
    b = a.clone()
    b[:, 16:] = torch.randint(0, 256, (1, 12))
    la, _ = model(a)
    lb, _ = model(b)
    torch.testing.assert_close(la[:, :16], lb[:, :16], rtol=0, atol=0)
    assert not torch.allclose(la[:, 16:], lb[:, 16:])


def test_batch_elements_do_not_influence_each_other():
    model = make(**VARIANTS[5])
    a, b = torch.randint(0, 256, (2, 1, 30))
    pair, mem_pair = model(torch.cat([a, b]))
    alone, mem_alone = model(a)
    torch.testing.assert_close(pair[:1], alone, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(mem_pair.layers[1].M[:1], mem_alone.layers[1].M, rtol=1e-10, atol=1e-12)


def test_gradient_reaches_an_early_segment_only_through_memory():
    model = make(**VARIANTS[5])
    tokens = torch.randint(0, 256, (1, 28))
    grads = {}
    for use_memory in (True, False):
        x = model.emb(tokens).detach().requires_grad_(True)
        h = x
        mem = model.new_memory(1)
        for blk, m in zip(model.blocks, mem.layers):
            h, _ = blk(h, m, use_memory)
        loss = model.logits(h)[:, 21:28].logsumexp(-1).sum()  # loss on segment 3 only
        grads[use_memory] = torch.autograd.grad(loss, x)[0][:, 0:7]  # w.r.t. segment 1's inputs
    assert grads[True].abs().max() > 1e-6
    assert grads[False].abs().max() == 0


def test_memory_stays_float32_under_bf16_autocast_and_is_close_to_float32():
    model = make(dtype=torch.float32, **VARIANTS[5])
    tokens = torch.randint(0, 256, (1, 30))
    ref, ref_mem = model(tokens)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low, mem = model(tokens)
    assert all(l.M.dtype == torch.float32 and l.z.dtype == torch.float32 for l in mem.layers)
    assert (low.float() - ref).abs().max() < 0.05 * ref.abs().max()
    assert torch.allclose(mem.layers[-1].M, ref_mem.layers[-1].M, atol=0.05)


@pytest.mark.parametrize("variant", VARIANTS, ids=ids)
def test_empty_memory_reads_zero_without_nan(variant):
    model = make(dtype=torch.float32, **variant)
    logits, mem = model(torch.randint(0, 256, (1, 5)))  # a partial segment: memory stays empty
    assert torch.isfinite(logits).all()
    assert all((l.M == 0).all() and (l.z == 0).all() for l in mem.layers)


@pytest.mark.parametrize("variant", [VARIANTS[5], QUIET], ids=ids)
def test_no_tokens_give_no_logits_and_leave_the_memory_as_it_was(variant):
    model = make(**variant)
    empty = torch.zeros(1, 0, dtype=torch.long)
    logits, mem = model(empty)
    assert logits.shape == (1, 0, model.cfg.vocab_size) and mem.segments == 0
    assert all((l.M == 0).all() for l in mem.layers)
    before = model.ingest(torch.randint(0, 256, (1, 10)), model.new_memory(1))  # 1 segment, 3 pending
    logits, after = model(empty, before)
    assert logits.shape == (1, 0, model.cfg.vocab_size) and after.equal(before)
    after = model.ingest(empty, model.ingest(torch.randint(0, 256, (1, 7)), model.new_memory(1)))
    assert after.segments == 1 and after.pending.shape == (1, 0)


def test_rope_restarts_in_each_segment_and_is_a_rotation():
    x = torch.randn(3, 7, 8, dtype=torch.float64)
    r = rope(x, torch.arange(7), 10000.0)
    torch.testing.assert_close(r.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(r[:, 0], x[:, 0])


def test_config_rejects_bad_values():
    from docqa.errors import ConfigError
    with pytest.raises(ConfigError, match="feature_map='relu'"):
        ModelConfig(feature_map="relu")
    with pytest.raises(ConfigError, match="use_z=False"):
        ModelConfig(update="token_delta", use_z=True)
    with pytest.raises(ConfigError, match="unknown config keys"):
        ModelConfig.from_dict({"n_layers": 3})
    for alpha in (0.0, 1.5):
        with pytest.raises(ConfigError, match="memory_decay"):
            ModelConfig(memory_decay=alpha)


def test_an_unknown_feature_map_or_update_rule_raises_instead_of_falling_through():
    """The config checks its names on construction; the math checks again, since a config is a
    mutable dataclass and a later assignment (a typo in a script) would otherwise silently run
    another rule."""
    from docqa.errors import ConfigError
    from docqa.model.infini import memory_write
    from docqa.model.naive import naive_write, sigma

    x = torch.randn(2, 4, dtype=torch.float64)
    with pytest.raises(ConfigError, match="feature_map='L2'; choose one of"):
        feature_map(x, "L2")
    with pytest.raises(ConfigError, match="feature map 'L2'"):
        sigma(x[0], "L2")
    cfg = ModelConfig.from_name("test")
    cfg.update = "detla"
    M, z = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4)
    sk, v, beta = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4), torch.ones(1, 2, 3)
    with pytest.raises(ConfigError, match="update='detla'; choose one of"):
        memory_write(cfg, M, z, sk, v, beta)
    with pytest.raises(ConfigError, match="update rule 'detla'"):
        naive_write(cfg, M[0, 0], z[0, 0], list(sk[0, 0]), list(v[0, 0]), list(beta[0, 0]))


@pytest.mark.parametrize("next_value_layers", [None, [1]])
def test_writes_are_the_keys_and_strengths_the_memory_is_written_with(monkeypatch, next_value_layers):
    import docqa.model.infini as infini

    # the conv must not reach across segments, as in forward
    model = make(seed=3, short_conv=3, next_value_layers=next_value_layers)
    seen = []
    scan = infini.memory_scan

    def spy(cfg, q, k, v, beta, mem, n_full):
        seen.append((q, k, beta))
        return scan(cfg, q, k, v, beta, mem, n_full)

    monkeypatch.setattr(infini, "memory_scan", spy)
    got, queries = [], []
    hooks = [blk.attn.register_forward_pre_hook(lambda m, args: got.append(m.writes(args[0])))
             for blk in model.blocks]
    hooks += [blk.attn.register_forward_pre_hook(lambda m, args: queries.append(m.projections(args[0])[0]))
              for blk in model.blocks]
    x = torch.randint(0, model.cfg.vocab_size, (2, 3 * 7 + 4))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    assert len(seen) == len(got) == model.cfg.n_layer
    for (q, k, beta), (wk, wbeta), wq in zip(seen, got, queries):
        B, N, H, S, D = k.shape
        torch.testing.assert_close(wq, q.transpose(1, 2).reshape(B, H, N * S, D)[:, :, :x.shape[1]], rtol=0, atol=0)
        torch.testing.assert_close(wk, k.transpose(1, 2).reshape(B, H, N * S, D)[:, :, :x.shape[1]], rtol=0, atol=0)
        torch.testing.assert_close(wbeta, beta.transpose(1, 2).reshape(B, H, N * S)[:, :, :x.shape[1]], rtol=0, atol=0)


def token_by_token(M, sk, v, beta):
    """The token-level delta rule straight from its definition, one token at a time (any dtype)."""
    for t in range(sk.shape[-2]):
        k_t, v_t, b_t = sk[..., t, :], v[..., t, :], beta[..., t, None]
        M = M + k_t.unsqueeze(-1) * (b_t * (v_t - (k_t.unsqueeze(-2) @ M).squeeze(-2))).unsqueeze(-2)
    return M


@pytest.mark.parametrize("S,Dk,Dv", [(7, 6, 4), (1, 3, 5), (13, 8, 8)])
def test_chunked_token_delta_matches_the_token_loop_in_outputs_and_gradients(S, Dk, Dv):
    """delta_scan (the UT/WY form: all segments' W_k, W_v at once, then two matmuls per segment)
    against the rule applied token by token, in float64, from a non-empty memory, with Dk != Dv."""
    from docqa.model.infini import delta_scan

    g = torch.Generator().manual_seed(S)
    B, N, H = 2, 3, 3
    sk = torch.nn.functional.normalize(torch.randn(B, N, H, S, Dk, generator=g, dtype=torch.float64), dim=-1)
    v = torch.randn(B, N, H, S, Dv, generator=g, dtype=torch.float64)
    beta = torch.rand(B, N, H, S, generator=g, dtype=torch.float64)
    M0 = torch.randn(B, H, Dk, Dv, generator=g, dtype=torch.float64) * 0.3
    z0 = torch.rand(B, H, Dk, generator=g, dtype=torch.float64)
    inputs = [t.requires_grad_() for t in (sk, v, beta, M0)]

    Ms, zs = delta_scan(M0, z0, sk, v, beta)
    expect = [M0]
    for n in range(N):
        expect.append(token_by_token(expect[-1], sk[:, n], v[:, n], beta[:, n]))
    assert len(Ms) == N + 1
    for got, want in zip(Ms, expect):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(zs[-1], z0 + (beta.unsqueeze(-1) * sk).sum((1, 3)), rtol=1e-12, atol=1e-12)

    w = [torch.randn_like(m) for m in Ms]  # a loss on every intermediate memory, not only the last
    grads = torch.autograd.grad(sum((m * wi).sum() for m, wi in zip(Ms, w)), inputs)
    ref = torch.autograd.grad(sum((m * wi).sum() for m, wi in zip(expect, w)), inputs)
    for name, a, b in zip(("sk", "v", "beta", "M0"), grads, ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10, msg=lambda m: f"d/d{name}: {m}")


def test_chunked_token_delta_in_float32_stays_within_float32_tolerance_of_float64_over_long_streams():
    """40 segments of 64 tokens (the shipped shape): the float32 fast path drifts no further from
    the float64 token loop than float32 rounding."""
    from docqa.model.infini import delta_scan

    g = torch.Generator().manual_seed(1)
    sk = torch.nn.functional.normalize(torch.randn(1, 40, 4, 64, 32, generator=g, dtype=torch.float64), dim=-1)
    v = torch.randn(1, 40, 4, 64, 32, generator=g, dtype=torch.float64)
    beta = torch.rand(1, 40, 4, 64, generator=g, dtype=torch.float64)
    M = torch.zeros(1, 4, 32, 32, dtype=torch.float64)
    Ms, _ = delta_scan(M.float(), M[..., 0].float(), sk.float(), v.float(), beta.float())
    for n in range(40):
        M = token_by_token(M, sk[:, n], v[:, n], beta[:, n])
    assert Ms[-1].dtype == torch.float32
    torch.testing.assert_close(Ms[-1].double(), M, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("variant", [VARIANTS[1], VARIANTS[5], VARIANTS[9]], ids=ids)
def test_float32_memory_path_is_bit_identical_however_the_segments_are_cut_or_batched(variant):
    """The resume guarantee, for the memory path: the chunked update works per segment and per
    (batch, head) matrix, so a chunk of 23 segments in one call, the same in pieces, and a
    stream alone or in a batch give the same float32 bits (reads and memory). Whole-model bit
    identity also needs the BLAS to give a row of a Linear the same bits whatever the row count,
    true of the shipped shapes here (the e2e resumed-equals-straight tests) but not of every
    shape on every BLAS."""
    from docqa.model.infini import memory_scan

    model = make(dtype=torch.float32, **variant)
    cfg, attn = model.cfg, model.blocks[0].attn
    S = cfg.segment_len
    x = model.emb(torch.randint(0, 256, (3, 23 * S))).view(3, 23, S, -1)
    with torch.no_grad():
        q, k, v, beta = attn._project(x)  # (B, N, H, S, D)
        empty = model.new_memory(3).layers[0]
        a_whole, whole = memory_scan(cfg, q, k, v, beta, empty, 23)
        reads, mem, start = [], empty, 0
        for n in (1, 3, 12, 7):
            part = slice(start, start + n)
            a, mem = memory_scan(cfg, q[:, part], k[:, part], v[:, part], beta[:, part], mem, n)
            reads.append(a)
            start += n
        assert torch.equal(torch.cat(reads, 1), a_whole)
        assert torch.equal(mem.M, whole.M) and torch.equal(mem.z, whole.z)
        for b in range(3):
            one = slice(b, b + 1)
            a, alone = memory_scan(cfg, q[one], k[one], v[one], beta[one], model.new_memory(1).layers[0], 23)
            assert torch.equal(a, a_whole[one]) and torch.equal(alone.M, whole.M[one]), b


def test_a_committed_segment_is_bit_identical_to_the_same_segment_streamed():
    """Cached decoding commits a full segment with memory_commit; ingest writes it in a chunk
    with memory_scan. One code path, so the same bits."""
    from docqa.model.infini import memory_commit, memory_scan

    model = make(dtype=torch.float32, **VARIANTS[5])
    cfg = model.cfg
    attn = model.blocks[0].attn
    x = model.emb(torch.randint(0, 256, (2, 3 * cfg.segment_len))).view(2, 3, cfg.segment_len, -1)
    q, k, v, beta = attn._project(x)  # (B, N, H, S, D)
    mem = model.new_memory(2).layers[0]
    _, after = memory_scan(cfg, q, k, v, beta, mem, 3)
    for n in range(3):
        mem = memory_commit(cfg, k[:, n], v[:, n], beta[:, n], mem)
    assert torch.equal(mem.M, after.M) and torch.equal(mem.z, after.z)


def test_memory_qk_starts_as_the_shared_projections_and_then_moves_only_the_memory():
    """memory_qk is zero at init, so a model gains it without changing its outputs; once it is
    not zero, the memory's keys and queries change while local attention (gate at -inf) does not."""
    torch.manual_seed(0)
    shared = make(**VARIANTS[7])
    own = InfiniTransformer(ModelConfig.from_name("test", segment_len=7, memory_qk=True, **VARIANTS[7])).double()
    result = own.load_state_dict(shared.state_dict(), strict=False)
    assert all(k.endswith("attn.mem_qk.weight") for k in result.missing_keys) and result.missing_keys
    tokens = torch.randint(0, 256, (1, 26))
    torch.testing.assert_close(own(tokens)[0], shared(tokens)[0], rtol=0, atol=0)
    with torch.no_grad():
        for blk in own.blocks:
            blk.attn.mem_qk.weight.normal_(0.0, 0.3)
    assert not torch.allclose(own(tokens)[1].layers[0].M, shared(tokens)[1].layers[0].M)
    _, x, local_shared = segment_outputs(shared, tokens, -1e4)
    _, _, local_own = segment_outputs(own, tokens, -1e4)
    torch.testing.assert_close(local_own, local_shared, rtol=1e-10, atol=1e-12)


def test_write_threshold_drops_the_writes_at_or_below_it():
    model = make(write_threshold=0.5)
    tokens = torch.randint(0, 256, (1, 21))
    with torch.no_grad():
        for blk in model.blocks:  # beta = sigmoid(-3) ~ 0.05 for every token of every head
            blk.attn.write_strength.weight.zero_()
            blk.attn.write_strength.bias.fill_(-3.0)
    memory = model.ingest(tokens, model.new_memory())
    assert all(float(layer.M.abs().max()) == 0.0 for layer in memory.layers)
    with torch.no_grad():  # sigmoid(3) ~ 0.95: every write kept, the memory moves
        for blk in model.blocks:
            blk.attn.write_strength.bias.fill_(3.0)
    memory = model.ingest(tokens, model.new_memory())
    assert all(float(layer.M.abs().max()) > 0.0 for layer in memory.layers)


def test_straight_through_gate_keeps_the_values_and_gives_dropped_writes_a_gradient():
    tokens = torch.randint(0, 256, (2, 26))
    grads = {}
    for straight in (False, True):
        model = make(**WINDOW)  # threshold 0.5, window 2
        for blk in model.blocks:
            blk.attn.gate_straight_through = straight
        logits, _ = model(tokens)
        w = torch.randn(logits.shape, generator=torch.Generator().manual_seed(1), dtype=logits.dtype)
        ref_logits, _ = naive_forward(model, tokens)
        torch.testing.assert_close(logits, ref_logits, rtol=1e-9, atol=1e-9)
        params = [blk.attn.write_strength.weight for blk in model.blocks]
        fast = torch.autograd.grad((logits * w).sum(), params)
        ref = torch.autograd.grad((ref_logits * w).sum(), params)
        for g, rg in zip(fast, ref):
            torch.testing.assert_close(g, rg, rtol=1e-7, atol=1e-9)
        grads[straight] = (logits.detach(), fast)
    assert torch.equal(grads[False][0], grads[True][0])  # the same values
    assert any(not torch.allclose(a, b) for a, b in zip(grads[False][1], grads[True][1]))


def test_write_gate_layers_gates_the_named_layers_only():
    model = make(write_threshold=0.5, write_gate_layers=[1])
    tokens = torch.randint(0, 256, (1, 21))
    with torch.no_grad():  # beta ~ 0.05 everywhere: below the threshold
        for blk in model.blocks:
            blk.attn.write_strength.weight.zero_()
            blk.attn.write_strength.bias.fill_(-3.0)
    memory = model.ingest(tokens, model.new_memory())
    assert float(memory.layers[0].M.abs().max()) > 0.0  # layer 0 is not gated: its weak writes land
    assert float(memory.layers[1].M.abs().max()) == 0.0
    assert [blk.attn.cfg.write_threshold for blk in model.blocks] == [0.0, 0.5]


def test_write_window_keeps_the_neighbours_of_a_strong_write_inside_its_segment():
    S = 7
    beta = torch.full((2, 1, 3 * S), 0.1)  # (B, H, T): three segments of weak writes
    beta[0, 0, 3] = 0.9  # strong, mid-segment 0
    beta[1, 0, S - 1] = 0.8  # strong, at the end of segment 0: nothing of segment 1 is its neighbour
    segs = beta.unflatten(-1, (3, S)).transpose(1, 2)  # (B, N, H, S), as forward() gates it
    alone = ModelConfig.from_name("test", segment_len=S, write_threshold=0.5)
    wide = ModelConfig.from_name("test", segment_len=S, write_threshold=0.5, write_window=2)
    for cfg, kept0, kept1 in ((alone, [3], [S - 1]), (wide, [1, 2, 3, 4, 5], [S - 3, S - 2, S - 1])):
        out = write_gate(cfg, segs).transpose(1, 2).flatten(1)  # back to (B, T) for one head
        assert torch.nonzero(out[0]).flatten().tolist() == kept0
        assert torch.nonzero(out[1]).flatten().tolist() == kept1
        assert torch.equal(out[out > 0], beta.flatten(1)[out > 0])  # kept writes keep their strength


def test_write_skip_drops_every_write_at_a_segments_first_positions_even_beside_a_strong_one():
    S = 7
    beta = torch.full((1, 1, 3 * S), 0.9)  # (B, H, T): three segments of strong writes
    beta[0, 0, S + 2] = 0.1  # weak, but within the window of strong ones
    segs = beta.unflatten(-1, (3, S)).transpose(1, 2)  # (B, N, H, S), as forward() gates it
    cfg = ModelConfig.from_name("test", segment_len=S, write_threshold=0.5, write_window=2, write_skip=2)
    out = write_gate(cfg, segs).transpose(1, 2).flatten(1)[0]
    dropped = [t for t in range(3 * S) if out[t] == 0]
    assert dropped == [0, 1, S, S + 1, 2 * S, 2 * S + 1]  # the window keeps S + 2; nothing brings 0-1 back
    assert torch.equal(out[out > 0], beta.flatten()[out > 0])
    no_skip = write_gate(replace(cfg, write_skip=0), segs)
    assert int((no_skip == 0).sum()) == 0


def test_write_skip_is_saved_only_when_set_so_older_models_keep_their_bytes():
    plain = ModelConfig.from_name("test", write_threshold=0.5)
    assert "write_skip" not in json.loads(plain.to_json())
    skipped = ModelConfig.from_name("test", write_threshold=0.5, write_skip=2, write_gate_layers=[1])
    assert json.loads(skipped.to_json())["write_skip"] == 2
    assert ModelConfig.from_dict(json.loads(skipped.to_json())) == skipped
    assert [skipped.layer_config(i).write_skip for i in range(2)] == [0, 2]  # an ungated layer writes everywhere


def test_a_quiet_span_runs_from_an_opening_token_through_the_first_closing_one_and_ends_with_its_segment():
    cfg = ModelConfig.from_name("test", segment_len=7, quiet_open=[1], quiet_close=[2])
    tokens = torch.tensor([[5, 1, 5, 5, 2, 5, 2,  # open, close: quiet 1..4; a close with nothing open is not
                            1, 5, 5, 5, 5, 1, 5,  # a span still open at the boundary ends there
                            5, 2, 1, 1, 2, 2, 5,  # so the next segment's tokens before its close write
                            1, 5]])  # a partial segment: open to its end
    quiet = quiet_mask(cfg, tokens)[0].tolist()
    assert [t for t, q in enumerate(quiet) if q] == [1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18, 21, 22]
    assert quiet_mask(ModelConfig.from_name("test"), tokens) is None


def test_quiet_tokens_write_nothing_in_any_layer_and_everything_else_is_written_as_without_them():
    model = make(**QUIET_PLAIN)
    tokens = torch.randint(64, 256, (1, 21))  # nothing quiet ...
    tokens[0, 3], tokens[0, 6] = 5, 30  # ... but a span 3..6 (and a token 5 in segment 2 is not closed)
    tokens[0, 9] = 5
    from docqa.model.center import memory_projections
    quiet = [t for t in range(21) if t in (3, 4, 5, 6) or t >= 9 and t < 14]
    plain = make(**{k: v for k, v in QUIET_PLAIN.items() if not k.startswith("quiet")})
    loud = [t for t in range(21) if t not in quiet]
    for layer, ((_, _, beta), (_, _, free)) in enumerate(zip(memory_projections(model, tokens),
                                                             memory_projections(plain, tokens))):
        assert int((beta[0, :, quiet] != 0).sum()) == 0
        assert bool((free[0, :, quiet] > 0).all())  # they would have written
        # the rest as written without quiet spans: in layer 0 everywhere, later on in the first
        # segment (after it, what they read from memory differs)
        at = loud if layer == 0 else [t for t in loud if t < 7]
        torch.testing.assert_close(beta[0, :, at], free[0, :, at], rtol=0, atol=0)


def test_each_gated_layer_runs_with_its_own_threshold_and_an_ungated_one_with_none():
    cfg = ModelConfig.from_name("test", n_layer=3, write_threshold=0.2, write_window=1, write_gate_layers=[1, 2],
                                write_threshold_per_layer=[0.9, 0.3, 0.6])
    assert [cfg.layer_config(i).write_threshold for i in range(3)] == [0.0, 0.3, 0.6]
    beta = torch.tensor([[[0.1, 0.4, 0.1, 0.1, 0.7, 0.1, 0.1]]])  # (B, H, S): one segment
    kept = [[t for t in range(7) if write_gate(cfg.layer_config(i), beta)[0, 0, t] > 0] for i in range(3)]
    assert kept == [list(range(7)), [0, 1, 2, 3, 4, 5], [3, 4, 5]]  # 0.4 clears 0.3, not 0.6; window 1
    assert ModelConfig.from_dict(json.loads(cfg.to_json())) == cfg
    assert "write_threshold_per_layer" not in json.loads(ModelConfig.from_name("test", write_threshold=0.2).to_json())


def test_write_floor_keeps_each_heads_strongest_writes_past_the_skip_whatever_the_threshold():
    beta = torch.tensor([[[0.45, 0.2, 0.4, 0.1, 0.3, 0.1, 0.6],  # (B, H, S): one segment, two heads
                          [0.1, 0.1, 0.25, 0.3, 0.2, 0.1, 0.1]]])
    cfg = ModelConfig.from_name("test", segment_len=7, write_threshold=0.5, write_window=1, write_skip=1,
                                write_floor=2)
    kept = [[t for t in range(7) if write_gate(cfg, beta)[0, h, t] > 0] for h in range(2)]
    # head 0: 0.6 clears and keeps its neighbour; 0.4 is the floor's second (0.45 is in the skip),
    # and the floor keeps no neighbour. Head 1: nothing clears, the floor keeps its two strongest.
    assert kept == [[2, 5, 6], [2, 3]]
    assert write_gate(cfg, beta)[0, 0, 2] == beta[0, 0, 2]  # a floor write keeps its strength
    assert kept[0] != [t for t in range(7) if write_gate(replace(cfg, write_floor=0), beta)[0, 0, t] > 0]
    quiet = torch.tensor([[False, False, False, True, True, True, True]])  # (B, S): head 1's best is quiet
    kept_quiet = [t for t in range(7) if write_gate(cfg, beta, quiet=quiet)[0, 1, t] > 0]
    assert kept_quiet == [1, 2]  # the floor picks among the writes that are left


def test_write_floor_is_saved_only_when_set_and_each_gated_layer_takes_its_own():
    plain = ModelConfig.from_name("test", write_threshold=0.5)
    assert not {"write_floor", "write_floor_per_layer"} & set(json.loads(plain.to_json()))
    cfg = ModelConfig.from_name("test", n_layer=3, write_threshold=0.2, write_gate_layers=[1, 2],
                                write_floor_per_layer=[4, 1, 0])
    assert ModelConfig.from_dict(json.loads(cfg.to_json())) == cfg
    assert [cfg.layer_config(i).write_floor for i in range(3)] == [0, 1, 0]  # layer 0 is not gated
    one = ModelConfig.from_name("test", write_threshold=0.2, write_floor=3)
    assert json.loads(one.to_json())["write_floor"] == 3 and one.layer_config(1).write_floor == 3


@pytest.mark.parametrize("kw, message", [(dict(write_floor=1), "set write_threshold too"),
                                         (dict(write_floor_per_layer=[1, 0]), "set write_threshold too"),
                                         (dict(write_threshold=0.5, write_floor=-1), "write_floor=-1"),
                                         (dict(write_threshold=0.5, write_floor=9), "up to segment_len=8"),
                                         (dict(write_threshold=0.5, write_floor_per_layer=[1]), "each of the 2"),
                                         (dict(write_threshold=0.5, write_floor_per_layer=[1, 0.5]), "0..8")])
def test_a_bad_write_floor_is_refused_with_what_to_set(kw, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig.from_name("test", **kw)


def test_quiet_spans_are_saved_only_when_set_and_survive_a_round_trip():
    plain = ModelConfig.from_name("test")
    assert not {"quiet_open", "quiet_close"} & set(json.loads(plain.to_json()))
    quiet = ModelConfig.from_name("test", quiet_open=[0], quiet_close=[10, 13], write_threshold=0.5,
                                  write_gate_layers=[1])
    assert ModelConfig.from_dict(json.loads(quiet.to_json())) == quiet
    assert [quiet.layer_config(i).quiet_close for i in range(2)] == [[10, 13], [10, 13]]  # every layer, gated or not


@pytest.mark.parametrize("kw, message", [(dict(quiet_open=[0]), "go together"),
                                         (dict(quiet_close=[1]), "go together"),
                                         (dict(quiet_open=[], quiet_close=[1]), "quiet_open=\\[\\] must list"),
                                         (dict(quiet_open=[0], quiet_close=[260]), "in 0..259"),
                                         (dict(quiet_open=[0, 3], quiet_close=[3]), "\\[3\\] both open and close")])
def test_quiet_spans_are_checked(kw, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig.from_name("test", **kw)


@pytest.mark.parametrize("kw, message", [(dict(write_threshold=1.0), "in \\[0, 1\\)"),
                                         (dict(write_threshold=0.5, write_window=-1), "write_window=-1"),
                                         (dict(write_window=2), "set write_threshold"),
                                         (dict(write_threshold=-0.1), "in \\[0, 1\\)"),
                                         (dict(write_threshold=0.5, write_strength=False), "write_strength=True"),
                                         (dict(write_gate_layers=[0]), "set write_threshold"),
                                         (dict(write_threshold=0.5, write_gate_layers=[2]), "distinct layers 0..1"),
                                         (dict(write_threshold=0.5, write_gate_layers=[0, 0]), "distinct layers"),
                                         (dict(write_threshold=0.5, write_gate_layers=[]), "distinct layers"),
                                         (dict(write_skip=2), "set write_threshold"),
                                         (dict(write_threshold=0.5, write_skip=-1), "write_skip=-1"),
                                         (dict(write_threshold=0.5, write_skip=8), "under segment_len=8"),
                                         (dict(write_threshold_per_layer=[0.2, 0.2]), "set write_threshold"),
                                         (dict(write_threshold=0.5, write_threshold_per_layer=[0.2]), "each of the 2"),
                                         (dict(write_threshold=0.5, write_threshold_per_layer=[0.2, 0.0]),
                                          "in \\(0, 1\\)")])
def test_write_threshold_is_checked(kw, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig.from_name("test", **kw)


def test_projections_gate_a_partial_segment_by_its_own_tokens_not_its_padding():
    """A trailing partial segment is padded to S for the projections; the padding (zero input,
    write strength sigmoid(bias)) must not keep a weak real write inside the window."""
    model = make(**WINDOW)  # threshold 0.5, window 2, S 7
    attn, S, C = model.blocks[0].attn, 7, model.cfg.d_model
    with torch.no_grad():
        attn.write_strength.weight.zero_()
        attn.write_strength.weight[:, 0] = 1.0
        attn.write_strength.bias.fill_(1.0)  # the padding writes with sigmoid(1) ~ 0.73: above 0.5
    x = torch.zeros(1, S + 4, C, dtype=torch.float64)
    x[..., 0] = -4.0  # every real token writes with sigmoid(-3) ~ 0.05: all dropped
    _, _, beta = attn.projections(x)
    assert beta.shape == (1, model.cfg.n_head, S + 4)
    assert float(beta.detach().abs().max()) == 0.0


def test_a_next_value_layer_writes_each_key_with_the_next_tokens_value_and_nothing_at_a_segments_end():
    plain = make(seed=5, short_conv=3, write_threshold=0.3, write_window=1)
    nxt = make(seed=5, short_conv=3, write_threshold=0.3, write_window=1, next_value_layers=[1])
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), nxt.state_dict().values()))
    x = torch.randn(2, 3 * 7, plain.cfg.d_model, dtype=torch.float64)
    k0, v0, b0 = plain.blocks[1].attn.segment_writes(x)  # (B, N, H, S, D), (B, N, H, S)
    k1, v1, b1 = nxt.blocks[1].attn.segment_writes(x)
    assert torch.equal(k1, k0)
    assert torch.equal(v1[..., :-1, :], v0[..., 1:, :]) and not v1[..., -1, :].any()
    assert torch.equal(b1[..., :-1], b0[..., :-1]) and not b1[..., -1].any() and b0[..., -1].any()
    assert not nxt.blocks[0].attn.next_value and nxt.blocks[1].attn.next_value  # the layers named only
    assert torch.equal(torch.stack(nxt.blocks[0].attn.segment_writes(x)[1:2]),
                       torch.stack(plain.blocks[0].attn.segment_writes(x)[1:2]))


def test_next_value_layers_are_checked_and_saved_only_when_set():
    assert "next_value_layers" not in ModelConfig.from_name("test").to_json()
    cfg = ModelConfig.from_name("test", next_value_layers=[1])
    assert ModelConfig.from_dict(json.loads(cfg.to_json())).next_value_layers == [1]
    for bad in ([], [2], [1, 1], [-1]):
        with pytest.raises(ConfigError, match="next_value_layers=.* must name distinct layers 0..1"):
            ModelConfig.from_name("test", next_value_layers=bad)
