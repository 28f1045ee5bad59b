"""Decoding by what the memory adds (generate(..., contrast=a)): each token is the argmax of
(1 + a) log p(. | memory) - a log p(. | memory knocked out) over the tokens with p(. | memory) at
least 0.1 of its top token's. Checked against a slow reference that recomputes both distributions
from scratch at every step, in float64."""

from __future__ import annotations

import pytest
import torch

from docqa.errors import ConfigError
from docqa.model import base
from docqa.model.base import generate, question_memory
from docqa.model.config import ModelConfig
from docqa.model.transformer import InfiniTransformer

S = 16


def make(seed=0):
    torch.manual_seed(seed)
    model = InfiniTransformer(ModelConfig.from_name("test", segment_len=S, short_conv=3)).to(torch.float64)
    with torch.no_grad():  # gates toward the memory, so that it changes the answer
        for blk in model.blocks:
            blk.attn.gate.fill_(2.0)
        model.norm_f.weight.fill_(4.0)  # peaked distributions, as a trained model's: the constraint has work
    return model


def setup(seed):
    model = make(seed)
    g = torch.Generator().manual_seed(seed)
    memory = model.ingest(torch.randint(0, 256, (1, 3 * S + 5), generator=g), model.new_memory(1))
    prompt = torch.randint(0, 256, (1, 7), generator=g)
    return model, memory, prompt


def reference(model, memory, prompt, n, a):
    """Both distributions recomputed over the whole answer so far at every step, no cache carried:
    the tokens and each step's scores."""
    out: list[int] = []
    steps = []
    for _ in range(n):
        x = torch.cat([prompt, torch.tensor([out], dtype=torch.long)], 1)
        lp = []
        for m in (memory, memory.clone().zero_()):
            logits = model.decoder(question_memory(model, m, prompt.shape[1])).feed(x)[0]
            lp.append(torch.log_softmax(logits, -1))
        plausible = lp[0].exp() >= 0.1 * lp[0].exp().max()  # Li et al.'s constraint, in probabilities
        steps.append(torch.where(plausible, (1 + a) * lp[0] - a * lp[1], -torch.inf))
        out.append(int(steps[-1].argmax()))
    return out, steps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contrast_decodes_the_memorys_log_probs_against_the_knocked_out_ones(seed, monkeypatch):
    model, memory, prompt = setup(seed)
    before = memory.clone()
    scores = []
    real = base.sample
    monkeypatch.setattr(base, "sample", lambda logits, *rest: scores.append(logits) or real(logits, *rest))
    got = list(generate(model, prompt[0].tolist(), memory, 6, contrast=1.5))
    want, want_scores = reference(model, memory, prompt, 6, 1.5)
    assert got == want
    for step, (a, b) in enumerate(zip(scores, want_scores)):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9, msg=f"step {step}")
    plain = torch.log_softmax(model.decoder(question_memory(model, memory, 7)).feed(prompt)[0], -1)
    kept = scores[0].isfinite()
    assert 1 < int(kept.sum()) < kept.numel(), "the constraint keeps some tokens and drops others"
    assert (scores[0][kept] - 2.5 * plain[kept]).abs().max() > 1e-3, "the prior's term must count"
    assert memory.equal(before), "generate must not write to the memory it was given"


def test_contrast_changes_the_answer_and_zero_is_plain_decoding():
    plain, contrasted = [], []
    for seed in range(4):
        model, memory, prompt = setup(seed)
        plain.append(list(generate(model, prompt[0].tolist(), memory, 6)))
        contrasted.append(list(generate(model, prompt[0].tolist(), memory, 6, contrast=3.0)))
        assert plain[-1] == reference(model, memory, prompt, 6, 0.0)[0]
    assert plain != contrasted, "a strong contrast should change some answer of a random model"


def test_a_knocked_out_memory_answers_the_same_with_or_without_contrast():
    model, memory, prompt = setup(0)
    empty = memory.clone().zero_()
    assert list(generate(model, prompt[0].tolist(), empty, 6, contrast=2.0)) == \
        list(generate(model, prompt[0].tolist(), empty, 6))


def test_a_negative_contrast_is_refused():
    model, memory, prompt = setup(0)
    with pytest.raises(ConfigError, match="contrast"):
        list(generate(model, prompt[0].tolist(), memory, 2, contrast=-0.5))
