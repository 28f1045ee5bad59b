"""benchmarks/bench_addressing.py asks where a read must be addressed: at the value's first token
that tells values apart. With the BPE vocabulary a digit value is " " then digit groups, and
that " " is the same for every value (predicted without the memory), so the key and the query
are taken one token later; a word value is one token and is taken where it starts."""

from __future__ import annotations

from docqa.model.tokenizer import load_tokenizer

from by_path import ROOT, benchmark


def bench_module():
    return benchmark("bench_addressing")


def test_the_informative_token_skips_an_answer_prefix_that_stands_alone():
    lead = bench_module().lead
    tok = load_tokenizer(ROOT / "checkpoints" / "bpe-c2" / "tokenizer.json")
    digits = tok.encode(tok.answer_prefix + "016097")
    assert tok.decode(digits[:1]) == tok.answer_prefix and lead(tok, digits) == 1
    assert tok.decode(digits[1:2]) == "016"
    word = tok.encode(tok.answer_prefix + "file")
    assert len(word) == 1 and lead(tok, word) == 0
