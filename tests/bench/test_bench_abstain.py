"""benchmarks/bench_abstain.py: the gain is the memory's on the model's own answer, and the table
counts what each threshold keeps."""

from __future__ import annotations

import math

import pytest
import torch

from docqa.attribution import score
from docqa.bench.haystack import cell_trial
from docqa.prompt import answer_tokens, question_tokens

from by_path import benchmark
from prose_model import prose_haystack, tiny_prose_lm


def test_a_trial_scores_the_answer_the_model_gave_over_an_empty_memory(tmp_path):
    lm = tiny_prose_lm()
    hay = prose_haystack(lm, tmp_path)
    rows = benchmark("bench_abstain").trials(lm, hay, "needle", "heldout", 256, "middle", 2, 0)
    assert [r["split"] for r in rows] == ["heldout", "heldout"]
    stream, question, answer, _, _ = cell_trial(lm.tokenizer, hay, "needle", "heldout", 256, "middle", 0, 1,
                                                lm.config.segment_len)
    row = rows[1]
    assert (row["question"], row["answer"]) == (question, answer) and row["right"] == (row["got"] == answer)
    memory = lm.model.ingest(torch.tensor([stream]), lm.model.new_memory(1))
    prompt, ans = question_tokens(lm.tokenizer, question), answer_tokens(lm.tokenizer, row["got"])
    expected = score(lm, memory, prompt, ans) - score(lm, memory.clone().zero_(), prompt, ans)
    assert expected != 0 and row["gain"] == pytest.approx(expected, rel=1e-6)


def test_the_table_counts_what_each_threshold_keeps():
    bench = benchmark("bench_abstain")
    rows = [{"split": "train", "right": r, "gain": g} for r, g in
            [(True, 9.0), (True, 0.5), (False, 3.0), (False, -2.0)]]
    lines = {line.split(" | ")[1]: line for line in bench.table(rows).splitlines()[2:]}
    assert lines["-inf"] == "| train | -inf | 4 / 4 | 0.50 | 2 / 2 | 2 / 2 |"
    assert lines["2"] == "| train | 2 | 2 / 4 | 0.50 | 1 / 2 | 1 / 2 |"
    assert lines["4"] == "| train | 4 | 1 / 4 | 1.00 | 1 / 2 | 0 / 2 |"
    assert lines["12"] == "| train | 12 | 0 / 4 | - | 0 / 2 | 0 / 2 |"
    assert math.isinf(bench.THRESHOLDS[0])
