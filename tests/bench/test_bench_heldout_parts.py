"""benchmarks/bench_heldout_parts.py: each part of a needle from its own split."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest
import torch

from docqa.bench.haystack import Haystack
from docqa.model.base import LoadedModel
from docqa.model.config import ModelConfig
from docqa.model.tokenizer import BPETokenizer
from docqa.model.transformer import InfiniTransformer
from docqa.train import phrasings as ph

from by_path import benchmark

PROSE = "The river winds through the valley, past mills and quiet farms.\n"


def frame_of(text: str, frames: list[str]) -> list[str]:
    """The frames (with any subject and value) that `text` is an instance of."""
    pattern = lambda f: re.escape(f).replace(re.escape("{s}"), ".+").replace(re.escape("{v}"), ".+")
    return [f for f in frames if re.fullmatch(pattern(f), text)]


@pytest.mark.parametrize("combo", list(itertools.product(("train", "heldout"), repeat=3)))
def test_each_part_comes_from_its_own_split(combo):
    bench = benchmark("bench_heldout_parts")
    splits = dict(zip(bench.PARTS, combo))
    for seed in range(20):
        statement, question, answer = bench.needle(random.Random(seed), splits)
        subject = next(s for s in ph.SUBJECTS if f" {s} " in f" {question[:-1]} ")
        assert subject in ph.split(ph.SUBJECTS, splits["subject"])
        assert frame_of(statement.strip(), ph.STATEMENTS)[0] in ph.split(ph.STATEMENTS, splits["statement"])
        assert frame_of(question, ph.QUESTIONS)[0] in ph.split(ph.QUESTIONS, splits["question"])
        assert answer in statement and subject in statement


@pytest.fixture(scope="module")
def lm_hay(tmp_path_factory):
    """A tiny random model and a haystack of repeated prose."""
    tok = BPETokenizer.train([PROSE * 3 + " ".join(ph.STATEMENTS + ph.QUESTIONS + ph.SUBJECTS)], vocab_size=400)
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test", vocab_size=tok.vocab_size, segment_len=16)).eval()
    lm = LoadedModel(model, tok, model.cfg, "0" * 64, Path("."))
    prose = tmp_path_factory.mktemp("hay") / "prose.txt"
    prose.write_text(PROSE * 80)
    return lm, Haystack(lm, [str(prose)])


def test_table_has_a_row_per_combination(lm_hay):
    bench = benchmark("bench_heldout_parts")
    rows = bench.table(*lm_hay, 64, "middle", 1).splitlines()[2:]
    assert [r.split(" | ")[:3] for r in rows] == [["| " + a, b, c] for a, b, c in
                                                  itertools.product(("train", "heldout"), repeat=3)]


def test_a_fixed_frame_is_the_statement_used():
    bench = benchmark("bench_heldout_parts")
    frame = ph.split(ph.STATEMENTS, "heldout")[-1]
    for seed in range(10):
        statement, question, answer = bench.needle(random.Random(seed), dict.fromkeys(bench.PARTS, "train"), frame)
        assert frame_of(statement.strip(), [frame]) == [frame] and answer in statement


def test_frame_table_has_a_row_per_frame_marked_by_split(lm_hay):
    bench = benchmark("bench_heldout_parts")
    rows = bench.frame_table(*lm_hay, 64, "middle", 1).splitlines()[2:]
    held = set(ph.split(ph.STATEMENTS, "heldout"))
    assert [r.split(" | ")[:2] for r in rows] == [["| " + f, "heldout" if f in held else "train"]
                                                  for f in ph.STATEMENTS]


@pytest.mark.parametrize("held", ["name", "subject", "statement", "question"])
def test_named_facts_take_each_part_from_its_own_split(held):
    bench = benchmark("bench_heldout_parts")
    splits = {p: "heldout" if p == held else "train" for p in bench.FACT_PARTS}
    for seed in range(10):
        facts = bench.named(random.Random(seed), 4, splits)
        for statement, (question, answer) in facts:
            name = next(n for n in ph.NAMES if re.search(rf"\b{n}\b", question))
            subject = next(s for s in sorted(ph.SUBJECTS, key=len, reverse=True) if s in question)
            assert name in ph.split(ph.NAMES, splits["name"]) and name in statement
            assert subject in ph.split(ph.SUBJECTS, splits["subject"]) and answer in statement
            pattern = lambda f: (re.escape(f).replace(re.escape("{s}"), ".+").replace(re.escape("{k}"), r"\S+")
                                 .replace(re.escape("{v}"), r"\S+"))
            st = [f for f in ph.FACT_STATEMENTS if re.fullmatch(pattern(f), statement.strip())]
            q = [f for f in ph.FACT_QUESTIONS if re.fullmatch(pattern(f), question)]
            assert st and st[0] in ph.split(ph.FACT_STATEMENTS, splits["statement"])
            assert q and q[0] in ph.split(ph.FACT_QUESTIONS, splits["question"])


def test_facts_table_holds_out_one_part_per_row(lm_hay):
    bench = benchmark("bench_heldout_parts")
    rows = bench.facts_table(*lm_hay, 2, 64, 1).splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| " + h for h in ("nothing", *bench.FACT_PARTS, "all")]


def test_frame_table_takes_given_frames_and_hands_back_each_trial(lm_hay):
    bench = benchmark("bench_heldout_parts")
    frames = [ph.STATEMENTS[0], ph.split(ph.STATEMENTS, "heldout")[0], "The {s} appears as {v}."]
    trials: dict = {}
    rows = bench.frame_table(*lm_hay, 64, "end", 3, frames=frames, trials=trials).splitlines()[2:]
    assert [r.split(" | ")[:2] for r in rows] == [["| " + frames[0], "train"], ["| " + frames[1], "heldout"],
                                                  ["| " + frames[2], "new"]]
    assert list(trials) == frames and all(len(t) == 3 for t in trials.values())
    for row, frame in zip(rows, frames):
        assert float(row.split(" | ")[2].rstrip(" |")) == pytest.approx(sum(trials[frame]) / 3, abs=0.005)


def test_frame_table_hands_back_each_wrong_answer_with_its_trial_and_expected_value(lm_hay):
    bench = benchmark("bench_heldout_parts")
    frames = [ph.STATEMENTS[0], "The {s} appears as {v}."]
    trials, misses = {}, {}
    bench.frame_table(*lm_hay, 64, "end", 4, frames=frames, trials=trials, misses=misses)
    splits = dict.fromkeys(bench.PARTS, "train")
    assert any(misses.values()), "the tiny model misses some: there is something to check"
    for frame in frames:
        assert [m["trial"] for m in misses[frame]] == [i for i, ok in enumerate(trials[frame]) if not ok]
        for m in misses[frame]:
            assert m["expected"] == bench.needle(random.Random(f"0:parts:{m['trial']}"), splits, frame)[2]
            assert m["given"] != m["expected"] and isinstance(m["in_text"], bool)


def test_the_misses_table_counts_wrong_answers_those_the_text_held_and_the_commonest():
    bench = benchmark("bench_heldout_parts")
    wrong = [{"trial": 0, "expected": "1", "given": "lynx", "in_text": False},
             {"trial": 2, "expected": "2", "given": "lynx", "in_text": False},
             {"trial": 3, "expected": "3", "given": "2020", "in_text": True}]
    rows = bench.misses_table({"The {s} is {v}.": wrong, "The {s} reads {v}.": []}).splitlines()
    assert rows[2] == "| The {s} is {v}. | 3 | 1 | 'lynx' x2, '2020' x1 |"
    assert rows[3] == "| The {s} reads {v}. | 0 | 0 |  |"


@pytest.mark.parametrize("held", ["people", "moves", "question"])
def test_tracking_stories_take_each_part_from_its_own_split_and_ask_the_latest_move(held):
    bench = benchmark("bench_heldout_parts")
    splits = {p: "heldout" if p == held else "train" for p in bench.TRACK_PARTS}
    people_re, places_re = "|".join(ph.PEOPLE), "|".join(ph.PLACES)
    pattern = lambda f: re.escape(f).replace(re.escape("{p}"), f"({people_re})").replace(re.escape("{l}"), f"({places_re})")
    for seed in range(10):
        story, ask = bench.tracking(random.Random(seed), splits)
        assert len(story) == 8
        moves = []
        for statement, _ in story:
            frame = [f for f in ph.MOVES if re.fullmatch(pattern(f), statement.strip())]
            assert frame and frame[0] in ph.split(ph.MOVES, splits["moves"])
            moves.append(re.fullmatch(pattern(frame[0]), statement.strip()).groups())
        assert {p for p, _ in moves} <= set(ph.split(ph.PEOPLE, splits["people"])) and len({p for p, _ in moves}) == 3
        question, place = story[ask][1]
        q = [f for f in ph.WHERE if re.fullmatch(pattern(f), question)]
        assert q and q[0] in ph.split(ph.WHERE, splits["question"])
        asked = re.fullmatch(pattern(q[0]), question).group(1)
        assert [l for p, l in moves if p == asked][-1] == place


def test_track_table_holds_out_one_part_per_row(lm_hay):
    bench = benchmark("bench_heldout_parts")
    rows = bench.track_table(*lm_hay, 256, 1).splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| " + h for h in ("nothing", *bench.TRACK_PARTS, "all")]
