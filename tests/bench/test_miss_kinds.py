"""benchmarks/miss_kinds.py: each miss of a haystack bench sorted as another stored value, the right
value's first token only, or neither; depths summed."""

from __future__ import annotations

import pytest

from docqa.model.io import load_model

from by_path import benchmark


@pytest.fixture(scope="module")
def tok():
    return load_model().tokenizer


def _miss(answer, got, stored):
    return {"statement": "", "question": "", "answer": answer, "got": got, "stored": stored}


def test_a_miss_is_another_value_the_first_token_or_neither(tok):
    mk = benchmark("miss_kinds")
    answer = "184965"
    ids = tok.encode(tok.answer_prefix + answer)
    assert not tok.decode(ids[:1]).strip()  # a number's answer opens with a bare space, as every number's
    first = tok.decode(ids[1:2]).strip()
    got = first + "7"  # the value's first token, then a wrong one
    assert got != answer and mk.first_token(tok, got) == mk.first_token(tok, answer) == ids[1]
    assert mk.kind(tok, _miss(answer, "52", [answer])) == "neither"  # another number: only the space shared
    assert mk.kind(tok, _miss(answer, got, [answer, "walrus"])) == "first token"
    assert mk.kind(tok, _miss(answer, "walrus", [answer, "walrus"])) == "other value"
    assert mk.kind(tok, _miss(answer, "walrus", [answer])) == "neither"  # not stored in this trial
    assert mk.kind(tok, _miss(answer, "", [answer])) == "neither"
    assert mk.kind(tok, _miss(answer, "7" + answer, [answer])) == "neither"


def test_depths_of_a_cell_are_summed_and_first_right_counts_exact_and_first_token(tok):
    mk = benchmark("miss_kinds")
    answer = "184965"
    first = tok.decode(tok.encode(tok.answer_prefix + answer)[1:2]).strip()
    cell = dict(task="needle", split="heldout", length=4096, n=4)
    cells = [dict(cell, depth="start", exact=0.5, misses=[_miss(answer, first + "7", [answer]),
                                                         _miss(answer, "koala", [answer, "koala"])]),
             dict(cell, depth="end", exact=0.75, misses=[_miss(answer, "x", [answer])]),
             dict(cell, length=8192, depth="end", exact=1.0, misses=[])]
    table = mk.rows(tok, cells)
    assert table == [{"task": "needle", "split": "heldout", "length": 4096, "n": 8, "exact": 5,
                      "other value": 1, "first token": 1, "neither": 1},
                     {"task": "needle", "split": "heldout", "length": 8192, "n": 4, "exact": 4,
                      "other value": 0, "first token": 0, "neither": 0}]
    assert "| needle | heldout | 4096 | 8 | 0.62 | 0.12 | 0.12 | 0.12 | 0.75 |" in mk.format_table("f", table)
    with pytest.raises(SystemExit, match="keeps no misses"):
        mk.rows(tok, [{"task": "passkey", "split": None, "length": 1024, "n": 2, "exact": 1.0}])
