import random

import pytest
import torch

from docqa.model.tokenizer import ByteTokenizer
from docqa.train.tasks import Filler, build_doc, kv_facts, passkey_facts, sample_doc

TOK = ByteTokenizer()


@pytest.mark.parametrize("seed", range(30))
def test_needles_end_before_the_question_segment_and_only_the_answer_is_a_target(seed):
    rng = random.Random(seed)
    S = rng.choice([64, 128])
    n = rng.randint(3, 12) * S - rng.randrange(S // 2)
    doc = sample_doc(TOK, rng, Filler(code_fraction=0.5), n, S, multi_fraction=0.5, max_facts=4)
    assert len(doc.tokens) == n
    text = TOK.decode(doc.tokens)
    assert text.endswith(f"<|answer|>{doc.answer}<|end|>")
    assert [t for t, m in zip(doc.tokens, doc.target) if m] == TOK.encode(doc.answer) + [259]
    q_seg_start = doc.question_start // S * S
    before = TOK.decode(doc.tokens[:q_seg_start])
    assert doc.answer in before, "the fact must be stored before the question's segment"
    assert TOK.decode(doc.tokens[doc.question_start:]).startswith("<|question|>")


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_passkey_depth_places_the_needle(depth):
    rng = random.Random(1)
    facts = passkey_facts(rng)
    doc = build_doc(TOK, rng, Filler(), 1024, 64, facts, ask=0, depths=[depth])
    pos = TOK.decode(doc.tokens).index("The pass key is") / 1024
    assert abs(pos - depth * (doc.question_start // 64 * 64) / 1024) < 0.1


def test_kv_facts_have_distinct_keys():
    facts = kv_facts(random.Random(3), 16, varied=True)
    questions = [q for _, (q, _) in facts]
    assert len(set(questions)) == 16


def test_too_short_document_is_refused():
    with pytest.raises(ValueError, match="too short"):
        build_doc(TOK, random.Random(0), Filler(), 100, 64, passkey_facts(random.Random(0)), ask=0)


def test_filler_draws_code_and_prose_in_their_shares():
    f = Filler(code_fraction=0.3, prose_fraction=0.3)
    pools = {k: bytes(v.tolist()) for k, v in f.pools.items()}
    pools["simple"] *= 4  # one period is stored; a draw repeats it
    rng = random.Random(0)
    kinds = {"simple": 0, "code": 0, "prose": 0}
    for _ in range(300):
        text = bytes(f.tokens(rng, 200))
        kind = next(k for k in ("simple", "prose", "code") if text in pools[k])
        kinds[kind] += 1
    assert 60 < kinds["code"] < 120 and 60 < kinds["prose"] < 120 and 90 < kinds["simple"] < 150, kinds
    assert b"Return" in pools["prose"] and b"def " not in pools["prose"][:2000]


def test_filler_pools_save_and_load_exactly(tmp_path):
    from docqa.train.corpus import Text

    texts = [Text("code", "stdlib", "a.py", "def f(x):\n    return x\n" * 50),
             Text("prose", "man", "ls.1", "List directory contents, sorted by name. " * 50)]
    f = Filler(TOK, code_fraction=0.5, prose_fraction=0.3, texts=texts)
    f.save(tmp_path / "pools.safetensors")
    g = Filler.load(tmp_path / "pools.safetensors", TOK, code_fraction=0.5, prose_fraction=0.3)
    assert set(g.pools) == {"simple", "code", "prose"}
    assert all(torch.equal(f.pools[k], g.pools[k]) for k in f.pools)
    assert f.tokens(random.Random(3), 300) == g.tokens(random.Random(3), 300)
