"""benchmarks/bench_wear.py: each answer token's log-probability after a needle, per length and with one
layer's memory knocked out."""

from __future__ import annotations

import math

import pytest
import torch

from docqa.attribution import score
from docqa.model.io import load_model
from docqa.prompt import question_tokens

from by_path import benchmark


@pytest.fixture(scope="module")
def lm():
    return load_model()


def test_the_scored_tokens_sum_to_attributions_score_and_skip_a_numbers_bare_space(lm):
    bw = benchmark("bench_wear")
    tok = lm.tokenizer
    text = tok.encode(" The pin is 48995. Keep it." * 40)[:256]
    memory = lm.model.ingest(torch.tensor([text]), lm.model.new_memory(1))
    prompt = question_tokens(tok, "What is the pin?")
    ids, first = bw.value_tokens(tok, "48995")
    assert first == 1 and not tok.decode(ids[:1]).strip()  # ' ' then the digits
    assert bw.value_tokens(tok, "wagon")[1] == 0  # a word opens with its own token
    whole = bw.token_scores(lm, memory, prompt, ids, 0)
    assert math.isclose(sum(whole.logp), score(lm, memory, prompt, ids), abs_tol=1e-6)
    assert bw.token_scores(lm, memory, prompt, ids, first).logp == whole.logp[first:]


def test_rows_copy_the_memory_after_each_length_of_one_stream(lm, tmp_path):
    bw = benchmark("bench_wear")
    (tmp_path / "a.txt").write_text("Plain words about nothing in particular, said again and again. " * 200)
    from docqa.bench.haystack import Haystack, cell_trial
    hay = Haystack(lm, [str(tmp_path)])
    rows = bw.wear(lm, hay, [256, 512], "train", 2)
    assert sorted({k[0] for k in rows}) == [256, 512] and len(rows) == 2 * (1 + lm.config.n_layer)
    stream, question, answer, _, _ = cell_trial(lm.tokenizer, hay, "needle", "train", 512, "start", 0, 1, 128)
    memory = lm.model.ingest(torch.tensor([stream[:512]]), lm.model.new_memory(1))  # whole, not in two calls
    ids, first = bw.value_tokens(lm.tokenizer, answer)
    again = bw.token_scores(lm, memory, question_tokens(lm.tokenizer, question), ids, first)
    assert rows[(512, None)][1].logp == pytest.approx(again.logp, abs=1e-5)
    assert "| 512 | layer 1 knocked out |" in bw.table(rows)
