"""stream_gap: a gap of text streamed without a graph, whose erasures still carry the gradient to the
memory before it. The value is checked against a plain ingest, the gradient against the slow
token loop of model/naive.py (float64) fed the gap's own layer inputs, held fixed."""

from __future__ import annotations

import json

import pytest
import torch

from docqa.errors import ConfigError
from docqa.model.config import ModelConfig
from docqa.model.infini import InfiniAttention
from docqa.model.naive import naive_attention
from docqa.model.transformer import InfiniTransformer
from docqa.train.gap import stream_gap

S = 8


def make(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = ModelConfig.from_name("test", segment_len=S, feature_map="l2", update="token_delta", use_z=False,
                                write_strength=True, short_conv=3, **kw)
    model = InfiniTransformer(cfg).double()
    with torch.no_grad():  # reads matter: the gap's later layers see what the memory holds
        for blk in model.blocks:
            blk.attn.gate.fill_(1.0)
    return model


def memory_with_grad(model, seed):
    """A memory written from a few segments, its M and z leaves that require grad."""
    g = torch.Generator().manual_seed(seed)
    mem = model.ingest(torch.randint(0, 256, (2, 3 * S), generator=g), model.new_memory(2))
    for layer in mem.layers:
        layer.M.requires_grad_(True)
        layer.z.requires_grad_(True)
    return mem, torch.randint(0, 256, (2, 5 * S), generator=g)


def layer_inputs(model, mem, gap):
    """Each attention layer's input over the gap, as one plain forward from this memory gives it."""
    inputs = []
    hooks = [m.register_forward_pre_hook(lambda _m, a: inputs.append(a[0]))
             for m in model.modules() if isinstance(m, InfiniAttention)]
    with torch.no_grad():
        model.hidden(gap, mem.detach())
    for h in hooks:
        h.remove()
    return inputs


@pytest.mark.parametrize("decay,learn", [(1.0, False), (0.9, False), (1.0, True), (0.9, True)])
def test_the_gap_has_the_value_of_streaming_it(decay, learn):
    model = make(memory_decay=decay)
    mem, gap = memory_with_grad(model, 0)
    want = model.ingest(gap, mem.detach())
    got = stream_gap(model, mem, gap, chunk_segments=2, learn_writes=learn)  # chunks cut the gap: the same map
    assert got.segments == want.segments and got.pending.shape[1] == 0
    for a, b in zip(got.layers, want.layers):
        torch.testing.assert_close(a.M, b.M, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(a.z, b.z, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("decay,seed", [(1.0, 0), (1.0, 1), (0.9, 2)])
def test_the_gradient_is_the_gaps_erasures_with_its_writes_held(decay, seed):
    model = make(seed, memory_decay=decay)
    mem, gap = memory_with_grad(model, seed)
    weights = [torch.randn_like(l.M) for l in mem.layers]
    z_weights = [torch.randn_like(l.z) for l in mem.layers]
    got = stream_gap(model, mem, gap)
    sum((w * l.M).sum() + (wz * l.z).sum() for w, wz, l in zip(weights, z_weights, got.layers)).backward()
    got_grad = [l.M.grad.clone() for l in mem.layers]

    # the reference: each layer's gap input, as the stream from this memory gives it, held fixed;
    # the naive token loop writes it over a fresh leaf copy of each batch row's memory
    inputs = layer_inputs(model, mem, gap)
    for layer, (blk, x, w, g) in enumerate(zip(model.blocks, inputs, weights, got_grad)):
        for b in range(2):
            M0 = mem.layers[layer].M[b].detach().clone().requires_grad_(True)
            z0 = mem.layers[layer].z[b].detach().clone().requires_grad_(True)
            _, M, z = naive_attention(blk.attn, x[b], M0, z0)
            want, want_z = torch.autograd.grad((w[b] * M).sum() + (z_weights[layer][b] * z).sum(), (M0, z0))
            torch.testing.assert_close(g[b], want, rtol=1e-10, atol=1e-10, msg=f"layer {layer} row {b}")
            torch.testing.assert_close(mem.layers[layer].z.grad[b], want_z, rtol=1e-10, atol=1e-10)
    # not the identity: the gap erases, so the test has something to check
    assert max((g - w).abs().max() for g, w in zip(got_grad, weights)) > 1e-3


def test_the_gaps_own_writes_learn_nothing_from_it():
    model = make()
    mem, gap = memory_with_grad(model, 3)
    got = stream_gap(model, mem, gap)
    sum(l.M.sum() for l in got.layers).backward()
    assert all(p.grad is None for p in model.parameters())
    assert all(l.M.grad is not None for l in mem.layers)


@pytest.mark.parametrize("decay,seed", [(1.0, 0), (0.9, 1)])
def test_with_learn_writes_each_layers_gap_writes_learn_from_its_own_weights(decay, seed):
    """The reference: the naive token loop over each layer's gap input, held fixed, with the layer's
    weights and the memory before the gap as leaves: every gradient of the memory after the gap."""
    model = make(seed, memory_decay=decay)
    mem, gap = memory_with_grad(model, seed)
    weights = [(torch.randn_like(l.M), torch.randn_like(l.z)) for l in mem.layers]
    got = stream_gap(model, mem, gap, learn_writes=True)
    sum((w * l.M).sum() + (wz * l.z).sum() for (w, wz), l in zip(weights, got.layers)).backward()
    got_mem = [(l.M.grad.clone(), l.z.grad.clone()) for l in mem.layers]
    got_params = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)

    inputs = layer_inputs(model, mem, gap)
    total, leaves = 0, []
    for layer, (blk, x, (w, wz)) in enumerate(zip(model.blocks, inputs, weights)):
        for b in range(2):
            M0 = mem.layers[layer].M[b].detach().clone().requires_grad_(True)
            z0 = mem.layers[layer].z[b].detach().clone().requires_grad_(True)
            _, M, z = naive_attention(blk.attn, x[b], M0, z0)
            total = total + (w[b] * M).sum() + (wz[b] * z).sum()
            leaves.append((layer, b, M0, z0))
    total.backward()
    for layer, b, M0, z0 in leaves:
        torch.testing.assert_close(got_mem[layer][0][b], M0.grad, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(got_mem[layer][1][b], z0.grad, rtol=1e-10, atol=1e-10)
    want_params = {n: p.grad for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().max() > 0}
    assert set(want_params) <= set(got_params)
    for n, g in want_params.items():
        torch.testing.assert_close(got_params[n], g, rtol=1e-9, atol=1e-10, msg=n)
    # one layer deep: nothing outside the attention layers' own write path learns from the gap
    assert not any(n.startswith(("emb", "norm_f")) or ".mlp." in n or ".proj." in n or n.endswith(".gate")
                   for n, g in got_params.items() if g.abs().max() > 0), sorted(got_params)
    assert any("write_strength" in n for n in got_params) and any("qkv" in n for n in got_params)


def test_a_gap_starts_and_ends_at_a_segment_boundary():
    model = make()
    mem, gap = memory_with_grad(model, 4)
    with pytest.raises(ConfigError, match="segment boundary"):
        stream_gap(model, mem, gap[:, :-1])
    with pytest.raises(ConfigError, match="segment boundary"):
        stream_gap(model, model.ingest(gap[:, :3], mem.detach()), gap)


def test_a_gap_refuses_the_memory_centres_of_training():
    model = make(0, memory_center=True)
    mem, gap = memory_with_grad(model, 5)
    with pytest.raises(ConfigError, match="memory_center"):
        stream_gap(model, mem, gap)


def test_a_gap_needs_the_token_level_delta_rule():
    model = make(0)
    model.cfg.update = "delta"
    mem, gap = memory_with_grad(model, 5)
    with pytest.raises(ConfigError, match="token_delta"):
        stream_gap(model, mem, gap)


def test_hidden_across_gap_is_the_stream_with_the_gap_in_it_less_the_gaps_records():
    """The loop's two forwards around a gap: the hidden states of one forward over the document with
    the gap's text in it, less the gap's positions, and the hooks' records of that forward, less
    the gap's segments (writes) and tokens (qk)."""
    from docqa.train.loop import hidden_across_gap

    model = make(6)
    g = torch.Generator().manual_seed(6)
    x = torch.randint(0, 256, (2, 5 * S + 3), generator=g)
    gap = torch.randint(0, 256, (2, 3 * S), generator=g)
    at = 2 * S
    writes, qk = [], []
    attns = [m for m in model.modules() if isinstance(m, InfiniAttention)]

    def capture(m, args):  # as the loop's address capture: projections() is not a write of the forward
        n = len(writes)
        qk.append(m.projections(args[0])[:2])
        del writes[n:]

    for a in attns:
        a.write_strength.register_forward_hook(lambda _m, _i, out: writes.append(out))
        a.register_forward_pre_hook(capture)
    n = len(attns)
    whole, _ = model.hidden(torch.cat([x[:, :at], gap, x[:, at:]], 1), model.new_memory(2))
    want_writes, want_qk = list(writes), list(qk)
    writes.clear(), qk.clear()
    h = hidden_across_gap(model, x, model.new_memory(2), at, gap, writes, qk)
    got_writes = list(writes)
    keep = torch.cat([torch.arange(at), torch.arange(at + gap.shape[1], whole.shape[1])])
    torch.testing.assert_close(h, whole[:, keep], rtol=1e-10, atol=1e-10)
    assert len(want_writes) == n and len(qk) == n
    segs = torch.tensor([0, 1, 5, 6, 7, 8])  # the gap's segments are 2-4
    for a, b in zip(got_writes, want_writes):
        torch.testing.assert_close(a, b[:, segs], rtol=1e-10, atol=1e-10)
    for (q, k), (wq, wk) in zip(qk, want_qk):
        torch.testing.assert_close(q, wq[..., keep, :], rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(k, wk[..., keep, :], rtol=1e-10, atol=1e-10)


def test_the_address_capture_holds_nothing_of_a_gap_while_it_streams():
    """The loop's address capture (q, k of the addressed rows at every attention call) records no
    forward without a graph: a gap streams under no_grad and its records are dropped after, so
    keeping them meanwhile only held every gap token's q and k (a run with gaps of 1,024 segments at
    batch 8 peaked at 14 GB). The document's records are the same."""
    from docqa.train.loop import address_capture, hidden_across_gap

    class Peak(list):  # the most records held at once
        most = 0

        def append(self, item):
            super().append(item)
            Peak.most = max(Peak.most, len(self))

    model = make(7)
    g = torch.Generator().manual_seed(7)
    x = torch.randint(0, 256, (2, 5 * S + 3), generator=g)
    gap = torch.randint(0, 256, (2, 40 * S), generator=g)  # three chunks of stream_gap's 16 segments
    writes, qk, rows = [], Peak(), [1]
    attns = [m for m in model.modules() if isinstance(m, InfiniAttention)]
    for a in attns:
        a.register_forward_pre_hook(address_capture(qk, rows, writes))
    hidden_across_gap(model, x, model.new_memory(2), 2 * S, gap, writes, qk)
    assert Peak.most == 2 * len(attns)  # the document's two halves, before they are joined
    assert len(qk) == len(attns) and all(q.shape[-2] == x.shape[1] for q, _ in qk)


@pytest.mark.parametrize("which", ["gap", "lead"])
def test_a_synthetic_passkeys_gap_and_lead_are_the_synthetic_filler_and_the_others_the_runs_text(
        task_tokenizer, essay_root, which):
    import random

    from docqa.model.tokenizer import load_tokenizer
    from docqa.train.loop import TrainConfig, draw_gap, draw_lead, make_batch
    from docqa.train.tasks import Filler

    tok, S = load_tokenizer(task_tokenizer), 64
    filler = Filler(tok, code_fraction=0.5, prose_fraction=0.5, root=essay_root)
    simple = set(filler.pools["simple"].tolist())
    tc = TrainConfig(preset="test", batch=8, min_segments=3, max_segments=4, gap_segments=2, gap_fraction=1.0,
                     lead_segments=2, lead_fraction=1.0, task_mix={"needle": 1, "passkey_synthetic": 1})
    rows = {"needle": 0, "passkey_synthetic": 0}
    for seed in range(6):
        _, _, _, _, docs = make_batch(tok, random.Random(seed), filler, tc, 100, S)
        text = (draw_gap(tc, random.Random(f"{seed}:gap"), filler, docs, S)[1] if which == "gap"
                else draw_lead(tc, random.Random(f"{seed}:lead"), filler, docs, S))
        assert text.shape[1] in (S, 2 * S)
        for d, row in zip(docs, text.tolist()):
            rows[d.task] += 1
            assert (set(row) <= simple) == (d.task == "passkey_synthetic"), d.task
    assert min(rows.values()) >= 8


def test_a_lead_is_streamed_before_the_documents_and_leaves_the_bank_as_it_was():
    from docqa.memory import Memory
    from docqa.train.loop import stream_lead

    model = make(0)
    g = torch.Generator().manual_seed(3)
    start = model.ingest(torch.randint(0, 256, (2, 2 * S), generator=g), model.new_memory(2))
    start = Memory(start.detach().layers, start.pending, 0)  # as HistoryBank.advance hands it out
    kept = [(l.M.clone(), l.z.clone()) for l in start.layers]
    lead, x = torch.randint(0, 256, (2, 3 * S), generator=g), torch.randint(0, 256, (2, 2 * S + 3), generator=g)
    h, _ = model.hidden(x, stream_lead(model, start, lead))
    want, _ = model.hidden(torch.cat([lead, x], 1), start)
    torch.testing.assert_close(h, want[:, lead.shape[1]:], rtol=1e-10, atol=1e-10)
    for layer, (M, z) in zip(start.layers, kept):
        assert torch.equal(layer.M, M) and torch.equal(layer.z, z)
    assert not stream_lead(model, start, lead).layers[0].M.requires_grad


def test_every_fact_is_stated_before_the_gap_and_every_question_after_it(task_tokenizer):
    import random

    from docqa.model.tokenizer import load_tokenizer
    from docqa.train.loop import TrainConfig, draw_gap, make_batch
    from docqa.train.tasks import Filler

    tok, S = load_tokenizer(task_tokenizer), 64
    tc = TrainConfig(preset="test", batch=8, min_segments=3, max_segments=6, gap_segments=3, gap_fraction=1.0,
                     task_mix={"needle": 1, "facts": 1, "track": 1, "kv": 1, "passkey": 1}, max_facts=8)
    filler, placed = Filler(tok), 0
    for seed in range(12):
        rng = random.Random(seed)
        x, _, _, _, docs = make_batch(tok, rng, filler, tc, 100, S)
        at, gap = draw_gap(tc, random.Random(f"{seed}:gap"), filler, docs, S)
        if gap is None:
            continue
        placed += 1
        assert at % S == 0 and gap.shape[0] == x.shape[0] and gap.shape[1] in (S, 2 * S, 3 * S)
        for d in docs:
            assert d.question_start >= at
            assert all(end <= at for _, end in d.statements), (d.task, d.statements, at)
    assert placed >= 8


def resumed_is_straight(tmp_path, settings: dict) -> list[dict]:
    """Train `settings` straight into tmp_path/a, and into tmp_path/b stopped halfway then resumed;
    assert the two end with the same weights; return the straight run's log."""
    from docqa.train.loop import TrainConfig, train

    from test_loop import assert_same_weights

    train(tmp_path / "a", TrainConfig(**settings))
    train(tmp_path / "b", TrainConfig(**{**settings, "steps": settings["steps"] // 2}))
    train(tmp_path / "b", TrainConfig(steps=settings["steps"]))
    assert_same_weights(tmp_path / "a", tmp_path / "b")
    return [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("learn", [False, True])
def test_a_run_with_gaps_logs_them_resumes_exactly_and_without_them_replays_the_plain_run(tmp_path, learn):
    from docqa.train.loop import TrainConfig, train

    from test_loop import TINY, assert_same_weights

    gapped = {**TINY, "gap_segments": 2, "gap_fraction": 0.5, "address_weight": 1.0, "value_write_weight": 0.1,
              "gap_learn_writes": learn}
    gaps = [e.get("gap", 0) for e in resumed_is_straight(tmp_path, gapped)]
    assert set(gaps) - {0} and set(gaps) <= {0, 1, 2}, gaps
    train(tmp_path / "plain", TrainConfig(**TINY))
    train(tmp_path / "never", TrainConfig(**{**TINY, "gap_segments": 2, "gap_fraction": 0.0}))
    assert_same_weights(tmp_path / "plain", tmp_path / "never")
    with pytest.raises(ConfigError, match="gap_fraction"):
        train(tmp_path / "bad", TrainConfig(**{**TINY, "gap_fraction": 1.5}))
    with pytest.raises(ConfigError, match="token_delta"):  # up front, not at the first gap step
        train(tmp_path / "rule", TrainConfig(**{**TINY, "gap_segments": 2, "gap_fraction": 0.01,
                                                 "model_overrides": {**TINY["model_overrides"], "update": "delta"}}))
    assert not (tmp_path / "rule" / "log.jsonl").exists() or not (tmp_path / "rule" / "log.jsonl").read_text()


def test_a_run_with_leads_logs_them_resumes_exactly_and_without_them_replays_the_plain_run(tmp_path):
    from docqa.train.loop import TrainConfig, train

    from test_loop import TINY, assert_same_weights

    leads = [e.get("lead", 0) for e in resumed_is_straight(tmp_path, {**TINY, "lead_segments": 3, "lead_fraction": 0.5})]
    assert set(leads) - {0} and set(leads) <= {0, 1, 2, 3}, leads
    train(tmp_path / "plain", TrainConfig(**TINY))
    train(tmp_path / "never", TrainConfig(**{**TINY, "lead_segments": 3, "lead_fraction": 0.0}))
    assert_same_weights(tmp_path / "plain", tmp_path / "never")
    with pytest.raises(AssertionError):  # a lead changes what the documents' writes start from
        assert_same_weights(tmp_path / "plain", tmp_path / "a")
    with pytest.raises(ConfigError, match="lead_segments=-1"):
        train(tmp_path / "bad", TrainConfig(**{**TINY, "lead_segments": -1}))
