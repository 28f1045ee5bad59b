"""The question's segment (docqa.model.base.question_memory): a prompt that would straddle a
segment boundary is moved into a segment of its own, as training lays a question out (filler,
question, answer, the segment's end); the early boundary is exact, for both model families."""

from __future__ import annotations

import pytest
import torch

from docqa.model import infini
from docqa.model.base import ANSWER_RESERVE, generate, question_cut, question_memory
from docqa.model.config import ModelConfig
from docqa.model.naive import naive_forward
from docqa.model.transformer import InfiniTransformer

S = 16
VARIANTS = [
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3),
    dict(feature_map="elu1", update="delta", write_strength=True),  # reads through z: 0/0 on an empty memory
    dict(feature_map="elu1", update="linear", write_strength=False),
    # quiet spans among random tokens 0..255 (ModelConfig.quiet_open): the cut ends a span too
    dict(feature_map="l2", update="token_delta", write_strength=True, short_conv=3,
         quiet_open=list(range(24)), quiet_close=list(range(24, 64))),
]


def ids(v):  # a long list (quiet spans' ids) by its length
    return "-".join(f"{len(x)}ids" if isinstance(x, list) and len(x) > 3 else str(x) for x in v.values())


def make(dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    model = InfiniTransformer(ModelConfig.from_name("test", segment_len=S, **kw)).to(dtype)
    with torch.no_grad():  # gates away from 0 so both paths of eq. 10 matter; the conv away from identity
        for blk in model.blocks:
            blk.attn.gate.copy_(torch.linspace(-1.0, 1.5, model.cfg.n_head))
            if model.cfg.short_conv:
                blk.attn.conv.normal_(0.0, 0.5)
    return model


def tokens(n, seed, vocab=256):
    return torch.randint(0, vocab, (1, n), generator=torch.Generator().manual_seed(seed))


def spy_writes(monkeypatch, *modules):
    """The length of every segment written to memory by cached decoding, once per commit."""
    written = []
    real = infini.memory_commit

    def spy(cfg, k, v, beta, mem):
        written.append(k.shape[-2])
        return real(cfg, k, v, beta, mem)
    for m in (infini, *modules):
        monkeypatch.setattr(m, "memory_commit", spy)
    return written


@pytest.mark.parametrize("pending, prompt, reserve, cut", [
    (0, 11, 6, 0),  # nothing pending: the question opens a segment already
    (5, 5, 6, 5), (13, 5, 6, 13), (15, 1, 0, 15), (13, 10, 6, 13),  # the whole tail goes to memory first
    (13, 11, 6, 0), (3, 17, 0, 0),  # prompt and reserve alone exceed a segment: nothing to align
])
def test_question_cut_writes_the_whole_pending_tail_first(pending, prompt, reserve, cut):
    assert question_cut(pending, prompt, S, reserve) == cut


def test_a_question_that_would_straddle_a_boundary_is_asked_in_a_segment_of_its_own(monkeypatch):
    """The bug: 13 pending tokens + a 5-token question crossed the boundary after 3 question
    tokens, which were written to memory with the tail; the question's end opened a new segment."""
    model = make(torch.float32)
    memory = model.ingest(tokens(45, 1), model.new_memory(1))  # 2 segments written, 13 pending
    before = memory.clone()
    written = spy_writes(monkeypatch)
    answer = list(generate(model, [1, 2, 3, 4, 5], memory, max_new_tokens=4))
    # the 13 pending tokens are written before the question, as a short segment; the question
    # and its answer open the next segment
    assert written == [13] * model.cfg.n_layer
    assert len(answer) == 4
    assert memory.equal(before)  # the snapshot is never modified


@pytest.mark.parametrize("variant", VARIANTS, ids=ids)
def test_the_early_boundary_equals_the_float64_reference_cut_at_the_same_place(variant):
    model = make(**variant)
    history, prompt, more = tokens(45, 1), tokens(5, 2), tokens(14, 3)  # more crosses the next boundary
    memory = model.ingest(history, model.new_memory(1))
    aligned = question_memory(model, memory, prompt.shape[1], reserve=6)
    assert aligned.segments == 3 and aligned.pending.shape[1] == 0  # the 13 pending tokens written alone
    dec = model.decoder(aligned)
    got = [dec.feed(prompt)] + [dec.feed(more[:, j:j + 1]) for j in range(more.shape[1] - 1)]
    ref, _ = naive_forward(model, torch.cat([history, prompt, more], 1), cuts=[45])
    torch.testing.assert_close(torch.cat(got), ref[0, 49:-1], rtol=1e-9, atol=1e-9)
    uncut, _ = naive_forward(model, torch.cat([history, prompt], 1))
    assert not torch.allclose(got[0], uncut[0, -1:], atol=1e-6)  # the cut changed what the question reads


@pytest.mark.parametrize("variant", VARIANTS[:2], ids=ids)
def test_the_early_boundary_equals_forward_on_a_stream_cut_there(variant, monkeypatch):
    """float32: the short segment through forward() itself (a segment length of 13 for it alone)."""
    model = make(torch.float32, **variant)
    history, prompt, more = tokens(45, 1), tokens(5, 2), tokens(14, 3)
    memory = model.ingest(history, model.new_memory(1))
    dec = model.decoder(question_memory(model, memory, prompt.shape[1], reserve=6))
    got = torch.cat([dec.feed(prompt)] + [dec.feed(more[:, j:j + 1]) for j in range(more.shape[1] - 1)])
    with torch.no_grad():
        ref = model.ingest(history[:, :32], model.new_memory(1))
        monkeypatch.setattr(model.cfg, "segment_len", 13)
        _, ref = model(history[:, 32:45], ref)
        monkeypatch.setattr(model.cfg, "segment_len", S)
        assert ref.segments == 3 and ref.pending.shape[1] == 0
        logits, _ = model(torch.cat([prompt, more], 1), ref)
    torch.testing.assert_close(got, logits[0, 4:-1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS[:2], ids=ids)
def test_a_short_first_segment_on_an_empty_memory_reads_no_nan(variant):
    model = make(torch.float32, **variant)
    memory = model.ingest(tokens(12, 1), model.new_memory(1))  # nothing written yet, 12 pending
    aligned = question_memory(model, memory, 5, reserve=6)
    assert aligned.segments == 1 and aligned.pending.shape[1] == 0
    assert all(torch.isfinite(m.M).all() and torch.isfinite(m.z).all() for m in aligned.layers)
    assert torch.isfinite(model.decoder(aligned).feed(tokens(5, 2))).all()
    assert memory.segments == 0 and memory.pending.shape[1] == 12


def test_a_prompt_too_long_to_align_runs_on_as_before(monkeypatch):
    """Prompt and reserve over a segment: the prompt continues the pending tail and crosses the
    boundary (the behaviour before alignment), so full segments only are written."""
    model = make(torch.float32)
    memory = model.ingest(tokens(45, 1), model.new_memory(1))
    written = spy_writes(monkeypatch)
    list(generate(model, list(range(12)), memory, max_new_tokens=1, reserve=6))
    assert written == [S] * model.cfg.n_layer  # 13 pending + the first 3 prompt tokens
    assert question_memory(model, memory, 12, reserve=6) is memory


def test_use_memory_off_writes_nothing_and_still_cuts(monkeypatch):
    model = make(torch.float32)
    memory = model.ingest(tokens(45, 1), model.new_memory(1))
    aligned = question_memory(model, memory, 5, reserve=6, use_memory=False)
    assert aligned.segments == 3 and aligned.pending.shape[1] == 0
    assert all(torch.equal(a.M, b.M) for a, b in zip(aligned.layers, memory.layers))
    plain = model.decoder(aligned, use_memory=False).feed(tokens(5, 2))
    with torch.no_grad():  # memory off: each segment alone, so the question's segment is the prompt alone
        logits, _ = model(tokens(5, 2), model.new_memory(1), use_memory=False)
    torch.testing.assert_close(plain, logits[:, -1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_a_converted_model_cuts_exactly_as_forward_on_a_stream_cut_there(arch, converted, monkeypatch):
    pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")
    from docqa.model import hf
    from docqa.model.io import load_model

    from test_hf_model import stream, with_memory_params

    model = with_memory_params(load_model(converted(arch, 8)).model)  # S = 8
    history, prompt, more = stream(21), stream(3, seed=1), stream(9, seed=2)  # 2 segments, 5 pending
    memory = model.ingest(history, model.new_memory(1))
    before = memory.clone()
    written = spy_writes(monkeypatch, hf)
    answer = list(generate(model, prompt[0].tolist(), memory, max_new_tokens=2, reserve=2))
    assert written == [5] * len(model.layers) and len(answer) == 2  # the 5 tail tokens, alone
    dec = model.decoder(question_memory(model, memory, prompt.shape[1], reserve=2))
    got = torch.cat([dec.feed(prompt)] + [dec.feed(more[:, j:j + 1]) for j in range(more.shape[1] - 1)])
    with torch.no_grad():
        ref = model.ingest(history[:, :16], model.new_memory(1))
        monkeypatch.setattr(model.cfg, "segment_len", 5)
        _, ref = model(history[:, 16:21], ref)
        monkeypatch.setattr(model.cfg, "segment_len", 8)
        logits, _ = model(torch.cat([prompt, more], 1), ref)
    torch.testing.assert_close(got, logits[0, 2:-1], rtol=1e-5, atol=1e-5)
    assert memory.equal(before)
