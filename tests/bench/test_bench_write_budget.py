"""benchmarks/bench_write_budget.py: the answer's loss is the one answering sees, and the
threshold probe runs the same weights with the writes cut."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from docqa.model.center import memory_projections
from docqa.prompt import answer_tokens, question_tokens

from by_path import benchmark
from prose_model import prose_haystack, tiny_prose_lm


@pytest.fixture(scope="module")
def lm():
    return tiny_prose_lm()


@pytest.fixture()
def hay(lm, tmp_path):
    return prose_haystack(lm, tmp_path)


def test_answer_loss_is_the_loss_of_decoding_the_answer_token_by_token(lm):
    bench = benchmark("bench_write_budget")
    memory = lm.model.ingest(torch.randint(0, lm.tokenizer.vocab_size, (1, 48)), lm.model.new_memory())
    question, answer = "What is the vault code?", "4821"
    nll, acc = bench.answer_loss(lm, memory, question, answer)
    prompt, ans = question_tokens(lm.tokenizer, question), answer_tokens(lm.tokenizer, answer)
    dec = lm.model.decoder(memory)
    logits = [dec.feed(torch.tensor([prompt]))]
    for t in ans[:-1]:
        logits.append(dec.feed(torch.tensor([[t]])))
    ref = torch.cat(logits)  # (len(ans), V): each predicts the next answer token
    target = torch.tensor(ans)
    assert nll == pytest.approx(float(F.cross_entropy(ref, target)), rel=1e-4)
    assert acc == pytest.approx(float((ref.argmax(-1) == target).float().mean()))


def test_a_threshold_above_every_write_leaves_the_memory_empty(lm, hay):
    bench = benchmark("bench_write_budget")
    cut = bench.with_threshold(lm, 0.999)
    assert lm.config.write_threshold == 0.0 and cut.config.write_threshold == 0.999
    streams = [bench.needle_stream(lm, hay, random.Random(i), 128, 0.5)[:2] for i in range(2)]
    assert all(r["needle_max"] == 0.0 and r["text_mean"] == 0.0 for r in bench.write_rows(cut, streams))
    assert any(r["needle_max"] > 0.0 for r in bench.write_rows(lm, streams))
    rows = bench.loss_rows(cut, hay, [64], 2, 0)  # nothing written: the memory reads as knocked out
    assert rows[0]["nll"] == pytest.approx(rows[0]["knockout_nll"], rel=1e-5)
    assert bench.loss_rows(lm, hay, [64], 2, 0)[0]["nll"] != pytest.approx(rows[0]["knockout_nll"], rel=1e-5)


def test_a_window_keeps_the_writes_next_to_a_strong_one(lm, hay):
    bench = benchmark("bench_write_budget")
    tokens = torch.tensor([bench.needle_stream(lm, hay, random.Random(0), 128, 0.5)[0]])
    plain = memory_projections(lm.model, tokens)[0][2]  # layer 0's beta (1, H, T), ungated
    tau = float(plain.flatten().kthvalue(plain.numel() - 3).values)  # a few writes clear it
    alone, wide = bench.with_threshold(lm, tau), bench.with_threshold(lm, tau, 3)
    assert wide.config.write_window == 3 and alone.config.write_window == 0
    kept = [int((memory_projections(m.model, tokens)[0][2] > 0).sum()) for m in (alone, wide)]
    assert kept[0] == int((plain > tau).sum()) and kept[1] > kept[0]
