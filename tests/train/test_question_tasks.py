import random
import re

import pytest

from docqa.model.tokenizer import BPETokenizer, ByteTokenizer
from docqa.train import phrasings as ph
from docqa.train.tasks import (SIMPLE_FILLER, TASKS, Filler, build_doc, named_facts, needle_facts, sample_task, subjects_apart,
                               tracking_facts)


@pytest.fixture(scope="module")
def bpe():
    text = " ".join(ph.STATEMENTS + ph.QUESTIONS + ph.NAMES + ph.PLACES + ph.MOVES) + " The grass is green. "
    return BPETokenizer.train([text * 5], vocab_size=600)


def test_heldout_lists_are_a_quarter_and_disjoint_from_training():
    for items in (ph.STATEMENTS, ph.QUESTIONS, ph.SUBJECTS, ph.NAMES, ph.FACT_STATEMENTS, ph.MOVES):
        train, held = ph.split(items, "train"), ph.split(items, "heldout")
        assert not set(train) & set(held) and len(train) + len(held) == len(items)
        assert len(held) == len(items) // 4
    seen = len(ph.split(ph.STATEMENTS, "train")) * len(ph.split(ph.QUESTIONS, "train"))
    assert seen >= 40, "the issue asks for at least 40 statement/question phrasings in training"
    with pytest.raises(ValueError, match="split 'test'"):
        ph.split(ph.NAMES, "test")


def test_open_frames_phrase_training_needles_only():
    assert not set(ph.TRAIN_ONLY_STATEMENTS) & set(ph.STATEMENTS)
    for frame in ph.TRAIN_ONLY_STATEMENTS:  # nothing of a held-out frame's own wording
        assert not re.search(r"record|agreed|current|reads", frame, re.I), frame
    patterns = [re.escape(f).replace(r"\{s\}", ".+").replace(r"\{v\}", ".+") for f in ph.TRAIN_ONLY_STATEMENTS]

    def open_share(split, open_frames):
        rng = random.Random(0)
        used = [needle_facts(rng, split, open_frames=open_frames)[0][0].strip() for _ in range(300)]
        return sum(any(re.fullmatch(p, u) for p in patterns) for u in used) / len(used)

    assert open_share("train", 0.0) == 0.0  # off: the bench's "seen" needles are the 9 frames as before
    assert 0.35 < open_share("train", 0.5) < 0.65
    assert open_share("heldout", 1.0) == 0.0


@pytest.mark.parametrize("seed", range(20))
def test_heldout_facts_use_only_heldout_names_and_phrasings(seed):
    rng = random.Random(seed)
    held_names, held_subjects = set(ph.split(ph.NAMES, "heldout")), set(ph.split(ph.SUBJECTS, "heldout"))
    facts = named_facts(rng, 4, "heldout")
    for statement, (question, value) in facts:
        name = next(n for n in ph.NAMES if re.search(rf"\b{n}\b", question))
        assert name in held_names and value in statement
        assert any(s in question for s in held_subjects)
    names = [next(n for n in ph.NAMES if re.search(rf"\b{n}\b", q)) for _, (q, _) in facts]
    assert len(set(names)) == 4, "named facts must be told apart by name"
    (statement, (question, value)), = needle_facts(rng, "heldout")
    assert any(s in question for s in held_subjects) and value in statement


@pytest.mark.parametrize("seed", range(30))
def test_tracking_answer_is_the_latest_place_of_the_person_asked(seed):
    rng = random.Random(seed)
    story, ask = tracking_facts(rng, 3, 8, "train")
    question, place = story[ask][1]
    person = re.search(r"\b(" + "|".join(ph.PEOPLE) + r")\b", question).group(1)
    moves = [(re.search(r"\b(" + "|".join(ph.PEOPLE) + r")\b", s).group(1),
              re.search(r"the (\w+)\.", s).group(1)) for s, _ in story]
    assert [l for p, l in moves if p == person][-1] == place


@pytest.mark.parametrize("task", [t for t in TASKS if t != "code"])
@pytest.mark.parametrize("seed", range(6))
def test_task_documents_keep_statements_before_the_question_segment(bpe, task, seed, tmp_path):
    from docqa.train.tasks import CodeFiles

    rng = random.Random(seed)
    S = 32
    n = rng.randint(6, 12) * S - rng.randrange(S // 2)
    code = None
    if task == "code_needle":
        (tmp_path / "mod.py").write_text("LIMIT = 7\n\n\ndef fetch(url, retries=3):\n    return url\n")
        code = CodeFiles(bpe, root=tmp_path)
    doc = sample_task(bpe, rng, Filler(bpe), n, S, task, max_facts=6, code=code)
    assert len(doc.tokens) == n and doc.task == task
    targets = [t for t, m in zip(doc.tokens, doc.target) if m]
    assert targets == bpe.encode(" " + doc.answer) + [bpe.special_tokens["<|end|>"]]
    assert doc.tokens[doc.answer_start:] == targets
    assert bpe.decode(doc.tokens[doc.question_start:doc.answer_start]).startswith("<|question|>")
    before = bpe.decode(doc.tokens[:doc.question_start // S * S])
    assert doc.answer in before, "the answer must be stored before the question's segment"


def test_byte_tokenizer_answers_keep_the_old_format():
    tok = ByteTokenizer()
    doc = sample_task(tok, random.Random(0), Filler(tok), 512, 64, "needle")
    assert tok.decode(doc.tokens).endswith(f"<|answer|>{doc.answer}<|end|>")


def test_code_documents_hold_whole_modules_and_ask_about_them(bpe, tmp_path):
    from docqa.train.tasks import CodeFiles

    for i in range(4):
        (tmp_path / f"mod{i}.py").write_text(f"LIMIT_{i} = {i * 7}\n\n\ndef fetch{i}(url, retries=3):\n    return url\n\n\n"
                                             f"class Reader{i}(Base):\n    pass\n")
    (tmp_path / "site-packages").mkdir()
    (tmp_path / "site-packages" / "third.py").write_text("def third_party(x):\n    return x\n")
    code = CodeFiles(bpe, root=tmp_path)
    assert len(code.files) == 4, "site-packages is never training text"
    rng = random.Random(0)
    seen = set()
    for _ in range(40):
        doc = code.doc(bpe, rng, 256, 32)
        assert len(doc.tokens) == 256 and doc.task == "code"
        question = bpe.decode(doc.tokens[doc.question_start:doc.answer_start])
        stream = bpe.decode(doc.tokens[:doc.question_start // 32 * 32])
        subject = re.search(r"(fetch\d|LIMIT_\d|Reader\d)", question).group(1)
        assert f"### mod{subject[-1]}.py\n" in stream, "the module asked about is streamed before the question"
        expected = {"fetch": "url, retries", "LIMIT_": str(int(subject[-1]) * 7), "Reader": "Base"}
        kind = next(k for k, qs in ph.CODE_QUESTIONS.items()
                    if any(question == f"<|question|>{q.format(subject=subject)}<|answer|>" for q in ph.split(qs, "train")))
        if kind == "defines":
            assert doc.answer == f"mod{subject[-1]}.py"
        else:
            assert doc.answer == next(v for k, v in expected.items() if subject.startswith(k))
        seen.add(kind)
    assert seen == set(ph.CODE_QUESTIONS)


def _code_question(question: str, split: str) -> tuple[str, str]:
    """(kind, subject) of a decoded code question prompt, in exactly one of the split's frames."""
    [found] = [(k, m.group(1)) for k, qs in ph.CODE_QUESTIONS.items() for q in ph.split(qs, split)
               if (m := re.fullmatch(re.escape(f"<|question|>{q}<|answer|>").replace(re.escape("{subject}"), "(.+)"),
                                     question))]
    return found


def test_renamed_code_documents_ask_made_up_subjects_answered_by_their_own_stream(bpe, tmp_path):
    from docqa.train.tasks import CodeFiles

    for i in range(4):
        (tmp_path / f"mod{i}.py").write_text(f"LIMIT_{i} = {i * 7}\n\n\ndef fetch{i}(url, retries=3):\n    return url\n\n\n"
                                             f"class Reader{i}(Base):\n    pass\n")
    code = CodeFiles(bpe, root=tmp_path, rename=0.5)
    rng = random.Random(0)
    kinds, renamed = set(), 0
    for _ in range(60):
        doc = code.doc(bpe, rng, 256, 32)
        question = bpe.decode(doc.tokens[doc.question_start:doc.answer_start])
        stream = bpe.decode(doc.tokens[:doc.question_start // 32 * 32])
        if re.search(r"(fetch\d|LIMIT_\d|Reader\d)", question):
            continue  # not renamed: the test above checks those
        renamed += 1
        kind, subject = _code_question(question, "train")
        assert kind != "defines", "a renamed module's path is the standard library's: not asked"
        assert ph.identifier_style(subject) == {"params": "function", "base": "class", "constant": "constant"}[kind]
        told = {"params": f"def {subject}({doc.answer}", "base": f"class {subject}({doc.answer})",
                "constant": f"{subject} = {doc.answer}"}[kind]
        assert told.replace("retries", "retries=3") in stream, "the answer is read from the renamed stream"
        kinds.add(kind)
    assert 15 < renamed < 45 and kinds == {"params", "base", "constant"}
    held_out = [code.doc(bpe, random.Random(i), 256, 32, split="heldout") for i in range(10)]
    assert all(re.search(r"(fetch\d|LIMIT_\d|Reader\d)", bpe.decode(d.tokens[d.question_start:])) for d in held_out)


def test_documents_too_short_for_any_module_draw_another_task(bpe, tmp_path):
    from docqa.train.tasks import CodeFiles, sample_doc

    (tmp_path / "big.py").write_text("LIMIT = 1\n" + "def f(a):\n    return a\n" * 40)
    code = CodeFiles(bpe, root=tmp_path)
    short = code.min_tokens(32) - 1
    tasks = {sample_doc(bpe, random.Random(i), Filler(bpe), max(short, 200), 32, mix={"code": 5, "needle": 1},
                        code=code).task for i in range(20)}
    assert tasks == {"needle"}
    long_doc = sample_doc(bpe, random.Random(0), Filler(bpe), code.min_tokens(32) + 64, 32, mix={"code": 1}, code=code)
    assert long_doc.task == "code"


def test_facts_documents_ask_several_facts_each_stored_before_the_questions(bpe):
    S, filler, counts = 32, Filler(bpe), []
    for seed in range(12):
        rng = random.Random(seed)
        n = 12 * S - rng.randrange(S // 2)
        doc = sample_task(bpe, rng, filler, n, S, "facts", max_facts=8, questions=3)
        assert len(doc.tokens) == n
        text = bpe.decode(doc.tokens)
        asked = re.findall(r"<\|question\|>(.*?)<\|answer\|> (.*?)<\|end\|>", text)
        assert len({q for q, _ in asked}) == len(asked) <= 3
        facts_told = bpe.decode(doc.tokens[:doc.question_start // S * S])
        assert all(value in facts_told for _, value in asked)
        # the targets are exactly the answers, each with its <|end|>
        targets = [t for t, m in zip(doc.tokens, doc.target) if m]
        assert targets == [t for _, v in asked for t in bpe.encode(" " + v) + [bpe.special_tokens["<|end|>"]]]
        counts.append(len(asked))
    assert max(counts) == 3 and min(counts) >= 1


def test_one_question_draws_the_stream_of_earlier_runs(bpe):
    """questions=1 must replay the documents runs before it trained on: the same draws in order."""
    from docqa.train.tasks import build_doc
    filler, S, n_tokens = Filler(bpe), 32, 300
    for seed in range(5):
        doc = sample_task(bpe, random.Random(seed), filler, n_tokens, S, "facts", max_facts=6)
        rng = random.Random(seed)
        room = (n_tokens // S - 1) * S - 32
        n = max(1, min(rng.randint(1, 6), room // 40))
        facts = named_facts(rng, n, "train")
        assert doc.tokens == build_doc(bpe, rng, filler, n_tokens, S, facts, rng.randrange(n), task="facts").tokens


def test_open_subjects_never_use_a_heldout_subject_or_its_word():
    heldout = ph.split(ph.SUBJECTS, "heldout")
    assert not {s.split()[0] for s in heldout} & set(ph.OPEN_WORDS)
    rng = random.Random(0)
    subjects = {ph.open_subject(rng) for _ in range(3000)}
    assert len(subjects) > 1000 and not subjects & set(heldout)


def test_open_subjects_replace_training_subjects_only_in_training():
    def subjects(split, share, seed=0):
        rng = random.Random(seed)
        out = []
        for _ in range(200):
            statement, (question, v) = needle_facts(rng, split, open_subjects=share)[0]
            out.append(next(s for s in ph.SUBJECTS + [f"{w} {k}" for w in ph.OPEN_WORDS for k in ph.OPEN_KINDS]
                            if s in question))
        return out

    closed, opened = subjects("train", 0.0), subjects("train", 0.5)
    assert set(closed) <= set(ph.split(ph.SUBJECTS, "train"))
    assert 0.3 < sum(s not in ph.SUBJECTS for s in opened) / len(opened) < 0.7
    assert set(subjects("heldout", 1.0)) <= set(ph.split(ph.SUBJECTS, "heldout"))  # the bench's split untouched
    # a share of 0 draws nothing extra: documents of earlier runs replay unchanged
    assert [needle_facts(random.Random(3), "train") for _ in range(5)] == \
        [needle_facts(random.Random(3), "train", open_subjects=0.0) for _ in range(5)]


def test_named_facts_share_one_open_subject():
    facts = named_facts(random.Random(1), 4, "train", open_subjects=1.0)
    subject = next(f"{w} {k}" for w in ph.OPEN_WORDS for k in ph.OPEN_KINDS if f"{w} {k}" in facts[0][1][0])
    assert all(subject in question for _, (question, _) in facts)


def test_kv_documents_are_dense_with_facts_and_ask_as_many_as_allowed(bpe):
    """The MQAR-style task: as many distinct named facts as the room holds (up to max_facts), each
    asked question a different one of them, each answer stored before the questions' segment."""
    from docqa.train.tasks import KV_FACT_TOKENS

    S = 32
    for seed in range(8):
        rng = random.Random(seed)
        n_tokens = rng.randint(8, 14) * S
        doc = sample_task(bpe, rng, Filler(bpe), n_tokens, S, "kv", max_facts=64, questions=4)
        assert len(doc.tokens) == n_tokens and doc.task == "kv"
        stored = bpe.decode(doc.tokens[:doc.question_start // S * S])
        room = (n_tokens // S - 2) * S - 32
        told = [name for name in ph.NAMES if re.search(rf"\b{name}\b", stored)]
        # dense: at least the facts task's most (one per 40 tokens), more than are asked
        assert len(told) >= max(room // 40, 5) and len(told) <= room // KV_FACT_TOKENS
        asked = re.findall(r"<\|question\|>(.*?)<\|answer\|> (.*?)<\|end\|>", bpe.decode(doc.tokens))
        assert len(asked) == 4 and len({q for q, _ in asked}) == 4
        assert all(value in stored for _, value in asked)


def test_kv_words_asks_by_keys_of_one_token_each(bpe):
    from docqa.train.tasks import word_keys
    keys = word_keys(bpe)
    assert keys and all(len(bpe.encode(" " + k)) == 1 for k in keys)
    doc = sample_task(bpe, random.Random(3), Filler(bpe), 12 * 32, 32, "kv_words", max_facts=len(keys), questions=3)
    asked = re.findall(r"<\|question\|>(.*?)<\|answer\|>", bpe.decode(doc.tokens))
    assert len(asked) == 3
    assert all(any(re.search(rf"\b{k}\b", q) for k in keys) for q in asked)
    assert not any(re.search(rf"\b{n}\b", q) for n in ph.NAMES for q in asked)


def test_composed_frames_are_many_and_share_no_heldout_wording():
    rng = random.Random(0)
    frames = [ph.composed_statement(rng) for _ in range(5000)]
    assert len(set(frames)) > 2000
    for frame in set(frames):
        assert frame.count("{s}") == 1 and frame.count("{v}") == 1, frame
        assert not re.search(r"record|agreed|current|reads|\bour\b", frame, re.I), frame
        assert frame[0].isupper() or frame.startswith("{v}"), frame
    assert not set(frames) & set(ph.split(ph.STATEMENTS, "heldout"))

    def composed_share(split, composed, open_frames=0.0):
        rng = random.Random(1)
        fixed = [re.escape(f).replace(r"\{s\}", ".+").replace(r"\{v\}", ".+")
                 for f in ph.STATEMENTS + ph.TRAIN_ONLY_STATEMENTS]
        used = [needle_facts(rng, split, open_frames=open_frames, composed_frames=composed)[0][0].strip()
                for _ in range(400)]
        return sum(not any(re.fullmatch(p, u) for p in fixed) for u in used) / len(used)

    assert composed_share("train", 0.0) == 0.0
    assert 0.3 < composed_share("train", 0.5) < 0.6  # a few composed frames happen to match a fixed one
    assert 0.15 < composed_share("train", 0.5, open_frames=0.5) < 0.35  # of the needles open_frames leaves
    assert composed_share("heldout", 1.0) == 0.0


def test_wide_links_are_verbs_that_share_no_heldout_or_probe_wording():
    for link in ph.WIDE_LINKS + ph.PROBE_LINKS:
        assert link.endswith(" {v}") and "{s}" not in link, link
        assert not re.match(r"(is|is now|is still|was|will be|equals|=) \{v\}$", link), link  # not "to be"
    for link in ph.WIDE_LINKS:
        assert not re.search(r"record|agreed|current|reads|\bour\b", link), link  # held-out frames' words
        assert not any(p.split()[0] in link.split() for p in ph.PROBE_LINKS), link
    assert len(set(ph.WIDE_LINKS)) == len(ph.WIDE_LINKS) > 60


def _wide_share(split, composed_frames, wide_links):
    rng = random.Random(4)
    only_wide = [l.removesuffix(" {v}") for l in set(ph.WIDE_LINKS) - set(ph.COMPOSED_LINKS)
                 if not any(c.endswith(" " + l) for c in ph.COMPOSED_LINKS)]  # "changed to": "was changed to"
    used = [needle_facts(rng, split, composed_frames=composed_frames, wide_links=wide_links)[0]
            for _ in range(600)]
    return sum(any(f" {w} {v}" in st for w in only_wide) for st, (_, v) in used) / len(used)


def test_wide_links_link_that_share_of_composed_training_needles():
    assert _wide_share("train", 1.0, 0.0) == 0.0
    assert 0.3 < _wide_share("train", 1.0, 0.5) < 0.5  # 5/6 of composed frames have a link, 81/84 new
    assert 0.65 < _wide_share("train", 1.0, 1.0) < 0.9
    assert _wide_share("train", 0.0, 1.0) == 0.0  # only composed frames take them
    assert _wide_share("heldout", 1.0, 1.0) == 0.0


def test_composed_statements_without_wide_links_draw_as_before():
    """wide_links=0 draws nothing extra: runs that composed frames before the knob replay. The
    replay is the draws composed_statement made before it: opener, determiner, closer, order, link."""
    for seed in range(40):
        rng, replay = random.Random(seed), random.Random(seed)
        frame = ph.composed_statement(rng, 0.0)
        opener, det = replay.choice(ph.COMPOSED_OPENERS), replay.choice(ph.COMPOSED_DETERMINERS)
        closer = replay.choice(ph.COMPOSED_CLOSERS)
        if replay.random() < 1 / 6:
            body = f"{{v}} is {det} {{s}}"
        else:
            body = f"{det} {{s}} {replay.choice(ph.COMPOSED_LINKS)}"
        text = opener + body + closer
        assert frame == (text[0].upper() + text[1:] if not text.startswith("{") else text)
        assert rng.random() == replay.random()


def test_kv_documents_whose_questions_leave_too_little_room_ask_fewer():
    """With every fact asked, the further questions can take the room the facts need (a 640-token
    document at S=128 with 16 questions: training run a9 stopped on one). Fewer are asked then,
    each still stored before the questions' segment."""
    from docqa.model.io import load_model
    from docqa.train.tasks import Filler

    tok = load_model().tokenizer  # the shipped vocabulary: the lengths of the failing draw
    rng = random.Random(849)
    rng.randrange(96)  # as the trainer's question cut drew before it
    doc = sample_task(tok, rng, Filler(tok), 640, 128, "kv", max_facts=64, questions=16)
    assert len(doc.tokens) == 640
    asked = re.findall(r"<\|question\|>(.*?)<\|answer\|> (.*?)<\|end\|>", tok.decode(doc.tokens))
    stored = tok.decode(doc.tokens[:doc.question_start // 128 * 128])
    assert 1 <= len(asked) < 16 and all(value in stored for _, value in asked)
    assert len(doc.asks) == len(asked)


HELDOUT_FACT_WORDING = r"has the|belongs|given to|record|agreed|current|reads|\bour\b"


def test_composed_fact_frames_are_many_name_the_fact_first_and_share_no_heldout_wording():
    rng = random.Random(0)
    frames = {ph.composed_fact_statement(rng) for _ in range(5000)}
    assert len(frames) > 2000
    for frame in frames:
        assert [frame.count(p) for p in ("{k}", "{s}", "{v}")] == [1, 1, 1], frame
        assert frame.index("{k}") < frame.index("{v}"), frame  # the conv reaches back to the name
        assert not re.search(HELDOUT_FACT_WORDING, frame, re.I), frame
        assert frame[0].isupper() or frame.startswith("{k}"), frame
    assert not frames & set(ph.split(ph.FACT_STATEMENTS, "heldout"))
    for q in ph.COMPOSED_FACT_QUESTIONS:
        assert q.count("{k}") == 1 and q.count("{s}") == 1, q
        assert not re.search(HELDOUT_FACT_WORDING, q, re.I), q
    assert not set(ph.COMPOSED_FACT_QUESTIONS) & set(ph.split(ph.FACT_QUESTIONS, "heldout"))


def _fixed_fact_share(split: str, composed: float) -> tuple[float, float]:
    """Shares of named facts' statements and questions in none of the fixed frames."""
    def pattern(frame):
        return re.escape(frame).replace(r"\{s\}", ".+").replace(r"\{k\}", r"\S+").replace(r"\{v\}", r"\S+")
    statements = [pattern(f) for f in ph.FACT_STATEMENTS]
    questions = [pattern(f) for f in ph.FACT_QUESTIONS]
    facts = [f for seed in range(50) for f in named_facts(random.Random(seed), 8, split, composed=composed)]
    new_st = sum(not any(re.fullmatch(p, st.strip()) for p in statements) for st, _ in facts)
    new_q = sum(not any(re.fullmatch(p, q) for p in questions) for _, (q, _) in facts)
    return new_st / len(facts), new_q / len(facts)


def test_named_facts_compose_their_frames_in_training_only():
    assert _fixed_fact_share("train", 0.0) == (0.0, 0.0)
    st, q = _fixed_fact_share("train", 0.5)
    assert 0.35 < st < 0.6 and 0.2 < q < 0.5  # a few composed ones happen to match a fixed frame
    assert _fixed_fact_share("heldout", 1.0) == (0.0, 0.0)


def test_named_facts_without_composed_frames_draw_as_before():
    """composed=0 draws nothing extra: a run resumed across this change replays its data."""
    rng_a, rng_b = random.Random(5), random.Random(5)
    assert named_facts(rng_a, 6, "train") == named_facts(rng_b, 6, "train", composed=0.0)
    assert rng_a.random() == rng_b.random()
    composed = named_facts(random.Random(5), 6, "train", composed=1.0)
    assert composed != named_facts(random.Random(5), 6, "train")


def test_composed_fact_statements_without_wide_links_draw_as_before():
    """The replay is the draws composed_fact_statement made before wide_links: opener, closer,
    lead or tie, its phrase, the link."""
    for seed in range(40):
        rng, replay = random.Random(seed), random.Random(seed)
        frame = ph.composed_fact_statement(rng, 0.0)
        opener, closer = replay.choice(ph.COMPOSED_OPENERS), replay.choice(ph.COMPOSED_CLOSERS)
        parts = ph.COMPOSED_FACT_LEADS if replay.random() < 0.25 else ph.COMPOSED_FACT_TIES
        text = opener + replay.choice(parts) + " " + replay.choice(ph.COMPOSED_LINKS) + closer
        assert frame == (text[0].upper() + text[1:] if not text.startswith("{") else text)
        assert rng.random() == replay.random()


def test_wide_links_link_composed_named_facts_in_training_only():
    only_wide = [l.removesuffix(" {v}") for l in set(ph.WIDE_LINKS) - set(ph.COMPOSED_LINKS)
                 if not any(c.endswith(" " + l) for c in ph.COMPOSED_LINKS)]

    def share(split, wide_links, composed=1.0):
        facts = named_facts(random.Random(6), 64, split, composed=composed, wide_links=wide_links)
        return sum(any(f" {w} {v}" in st for w in only_wide) for st, (_, v) in facts) / len(facts)

    assert share("train", 0.0) == 0.0 and share("train", 1.0, composed=0.0) == 0.0
    assert share("train", 1.0) > 0.8 and 0.25 < share("train", 0.5) < 0.75
    assert share("heldout", 1.0) == 0.0


@pytest.mark.parametrize("task", ["facts", "kv"])
def test_composed_fact_documents_store_every_asked_value_before_the_questions(bpe, task):
    for seed in range(4):
        doc = sample_task(bpe, random.Random(seed), Filler(bpe), 12 * 32, 32, task, max_facts=12,
                          questions=4, composed_fact_frames=1.0)
        assert len(doc.tokens) == 12 * 32
        asked = re.findall(r"<\|question\|>(.*?)<\|answer\|> (.*?)<\|end\|>", bpe.decode(doc.tokens))
        stored = bpe.decode(doc.tokens[:doc.question_start // 32 * 32])
        assert asked and all(value in stored for _, value in asked)
        assert len(asked) == len(doc.asks) and len({q for q, _ in asked}) == len(asked)


def test_open_names_are_many_and_never_held_out():
    rng = random.Random(0)
    names = [ph.open_name(rng) for _ in range(3000)]
    assert len(set(names)) > 2000
    assert not set(names) & set(ph.split(ph.NAMES, "heldout"))
    assert all(n[0].isupper() and n.isalpha() and len(n) >= 3 for n in names)


def _name_in(statement: str) -> str:
    """The name a fixed-frame named-fact statement is about."""
    for frame in ph.FACT_STATEMENTS:
        pattern = re.escape(frame).replace(r"\{k\}", r"([A-Za-z]+)").replace(r"\{s\}", ".+").replace(r"\{v\}", r"\S+")
        m = re.fullmatch(pattern, statement.strip())
        if m:
            return m.group(1)
    raise AssertionError(f"no frame fits {statement!r}")


def test_named_facts_make_up_names_in_training_only():
    def made_up(split, share, names=None):
        listed = set(ph.NAMES) if names is None else set(names)
        facts = [f for seed in range(40) for f in named_facts(random.Random(seed), 8, split, open_names=share,
                                                               names=names)]
        return sum(_name_in(st) not in listed for st, _ in facts) / len(facts)

    assert made_up("train", 0.0) == 0.0
    assert 0.35 < made_up("train", 0.5) < 0.65
    assert made_up("heldout", 1.0) == 0.0
    assert made_up("train", 1.0, names=["Alpha", "Beta", "Gamma", "Delta", "Omega", "Sigma", "Kappa", "Theta"]) == 0.0
    for seed in range(20):  # made-up names stay distinct within a document, and each is asked by
        facts = named_facts(random.Random(seed), 64, "train", open_names=1.0)
        names = [_name_in(st) for st, _ in facts]
        assert len(set(names)) == 64 and not set(names) & set(ph.split(ph.NAMES, "heldout"))
        assert all(name in q for name, (_, (q, _)) in zip(names, facts))


def test_composed_questions_are_many_and_share_no_heldout_wording():
    rng = random.Random(0)
    drawn = [ph.composed_question(rng) for _ in range(5000)]
    questions = set(drawn)
    assert len(questions) > 900
    requests = sum(q.endswith(".") for q in drawn) / len(drawn)  # ". Just the value." is a question's
    assert 0.28 < requests - sum(q.endswith("? Just the value.") for q in drawn) / len(drawn) < 0.39
    for q in questions:
        assert q.count("{s}") == 1 and "{v}" not in q and q[0].isupper(), q
        assert not re.search(r"which value|\bgive\b", q, re.I), q  # the held-out questions' wording
    assert not questions & set(ph.split(ph.QUESTIONS, "heldout"))


def _composed_question_share(split, composed_questions):
    rng = random.Random(2)
    fixed = set(ph.QUESTIONS)
    asked = []
    for _ in range(400):
        (_, (q, _)), = needle_facts(rng, split, composed_questions=composed_questions)
        asked.append(q)
    return sum(not any(q == f.format(s=s) for f in fixed for s in ph.SUBJECTS) for q in asked) / len(asked)


def test_needles_compose_their_questions_in_training_only():
    assert _composed_question_share("train", 0.0) == 0.0
    assert 0.35 < _composed_question_share("train", 0.5) < 0.6  # "What is the {s}?" is both
    assert _composed_question_share("heldout", 1.0) == 0.0


def test_needles_without_composed_questions_draw_as_before():
    """composed_questions=0 draws nothing extra: the needle stream of earlier runs replays. The
    replay is the draws needle_facts made before the knob: subject, value, frame, question."""
    for seed in range(20):
        rng, replay = random.Random(seed), random.Random(seed)
        (statement, (question, value)), = needle_facts(rng, "train", composed_questions=0.0)
        subject = replay.choice(ph.split(ph.SUBJECTS, "train"))
        assert ph.value(replay, None) == value
        frame, q = replay.choice(ph.split(ph.STATEMENTS, "train")), replay.choice(ph.split(ph.QUESTIONS, "train"))
        assert (statement, question) == (" " + frame.format(s=subject, v=value) + " ", q.format(s=subject))
        assert rng.random() == replay.random()


def test_composed_question_documents_ask_a_composed_question_of_a_stored_needle(bpe):
    S = 32
    for seed in range(6):
        rng = random.Random(seed)
        doc = sample_task(bpe, rng, Filler(bpe), 8 * S - 5, S, "needle", composed_questions=1.0)
        asked = bpe.decode(doc.tokens[doc.question_start:doc.answer_start])
        assert not any(f.format(s=s) in asked for f in ph.QUESTIONS for s in ph.SUBJECTS if f != "What is the {s}?")
        assert doc.answer in bpe.decode(doc.tokens[:doc.question_start // S * S])


def test_a_synthetic_passkey_hides_in_the_simple_filler_whatever_the_runs_text(bpe, essay_root):
    filler = Filler(bpe, code_fraction=0.5, prose_fraction=0.5, root=essay_root)
    assert set(filler.pools) == {"simple", "code", "prose"}
    S, simple = 32, SIMPLE_FILLER.replace(" ", "")
    for seed in range(4):
        mixed = sample_task(bpe, random.Random(seed), filler, 8 * S, S, "passkey")
        assert "River" in bpe.decode(mixed.tokens), "the plain passkey hides in the run's text"
        doc = sample_task(bpe, random.Random(seed), filler, 8 * S, S, "passkey_synthetic")
        stream = bpe.decode(doc.tokens[:doc.question_start]).split("\n", 1)[1]  # less the header
        pieces = stream.split(f"The pass key is {doc.answer}. Remember it. {doc.answer} is the pass key.")
        assert len(pieces) == 2, "the passkey is stated once"
        for hay in pieces:
            assert hay.replace(" ", "") in simple * (len(hay) // len(simple) + 2), hay


def test_short_documents_are_files_behind_ingests_headers_and_off_they_draw_as_before(bpe, essay_root):
    from docqa.prompt import header_tokens

    mark = bpe.encode("<|doc|>", allow_special=True)[0]
    filler = Filler(bpe, code_fraction=0.5, prose_fraction=0.5, root=essay_root)
    assert filler.tokens(random.Random(1), 700) == filler._run(random.Random(1), 700)  # no draw when off
    filler.short_docs = 1.0
    for seed in range(4):
        got = filler.tokens(random.Random(seed), 3000)
        assert len(got) == 3000 and got[0] == mark
        starts = [i for i, t in enumerate(got) if t == mark]
        assert len(starts) >= 3000 // (300 + 20)
        for a, b in zip(starts, starts[1:]):
            text = bpe.decode(got[a + 1:b])
            head = text.split("\n", 1)[0]  # "### path"
            assert re.fullmatch(r"### [a-z/]+(\.(txt|md|rst|py))?", head), head
            assert got[a:a + len(header_tokens(bpe, head[4:]))] == header_tokens(bpe, head[4:])
            assert 20 <= b - a - len(header_tokens(bpe, head[4:])) <= 300
    synthetic = filler.synthetic()  # a passkey row's files are the simple filler, cut the same way
    assert synthetic.short_docs == 1.0
    got = synthetic.tokens(random.Random(5), 2000)
    assert got.count(mark) >= 5 and SIMPLE_FILLER.split(".")[1].strip() in bpe.decode(got)


def _bodies(tok, got: list[int]) -> list[list[int]]:
    """The files' texts of a short-documents draw, headers dropped (the first and last files are cut)."""
    from docqa.prompt import header_tokens

    mark = tok.encode("<|doc|>", allow_special=True)[0]
    starts = [i for i, t in enumerate(got) if t == mark]
    out = []
    for a, b in zip(starts, starts[1:]):
        head = tok.decode(got[a + 1:b]).split("\n", 1)[0]
        out.append(got[a + len(header_tokens(tok, head[4:])):b])
    return out


def test_short_documents_apart_each_file_is_a_draw_of_its_own(bpe):
    synthetic = Filler(bpe).synthetic()
    pool = synthetic.pools["simple"].tolist()
    period, ring = len(pool), pool * 40

    def offset(body: list[int]) -> int:  # where in the filler's period the file's text starts
        at = [i for i in range(period) if ring[i:i + len(body)] == body]
        assert at, "every file's text is the filler's own"
        return at[0]

    def joined(apart: bool, seed: int) -> list[bool]:  # file i + 1 goes on where file i stopped
        synthetic.short_docs = 1.0; synthetic.short_docs_apart = apart
        bodies = _bodies(bpe, synthetic.tokens(random.Random(seed), 3000))
        return [(offset(a) + len(a)) % period == offset(b) for a, b in zip(bodies, bodies[1:])]

    for seed in range(3):
        assert all(joined(False, seed))  # one draw, cut
        cont = joined(True, seed)
        assert len(cont) >= 8 and sum(cont) <= 1, cont  # a chance join is one in a period


def test_short_docs_is_a_share():
    from docqa.errors import ConfigError
    from docqa.train.loop import TrainConfig, check_settings

    check_settings(TrainConfig(short_docs=0.3))
    with pytest.raises(ConfigError, match="short_docs=1.5"):
        check_settings(TrainConfig(short_docs=1.5))


def _needle_doc(bpe, seed, S=32, **kw):
    return sample_task(bpe, random.Random(seed), Filler(bpe), 12 * S - 5, S, "needle", **kw)


def test_needle_distractors_store_needles_of_other_subjects_and_ask_one(bpe):
    """With needle_distractors a needle document also holds up to that many needles of other
    subjects: a question that names only the subject must pick its needle by it."""
    S, counts = 32, []
    for seed in range(40):
        doc = _needle_doc(bpe, seed, S, needle_distractors=3, composed_questions=1.0)
        stored = [bpe.decode(doc.tokens[a:b]) for a, b in doc.statements]
        counts.append(len(stored))
        assert all(b <= doc.question_start // S * S for _, b in doc.statements)
        holding = [s for s in stored if doc.answer in s]
        assert len(holding) == 1, (stored, doc.answer)  # the answer is the asked needle's value alone
        assert doc.answer in stored[doc.asks[0][1]]
        assert len(set(k for k in doc.keys if k >= 0)) == len(stored)  # each needle is a key to address
    assert min(counts) == 1 and max(counts) == 4  # 0..3 distractors, drawn per document


def test_needle_subjects_apart_are_distinct_and_open_ones_only_in_training():
    rng = random.Random(0)
    for _ in range(200):
        subjects = subjects_apart(rng, 4, "train", open_subjects=0.5)
        assert len(set(subjects)) == 4
    held = set(ph.split(ph.SUBJECTS, "heldout"))
    assert all(set(subjects_apart(rng, 4, "heldout", open_subjects=1.0)) <= held for _ in range(50))


def test_needle_distractors_are_training_only_and_off_draw_as_before(bpe):
    for seed in range(10):
        held = sample_task(bpe, random.Random(seed), Filler(bpe), 12 * 32 - 5, 32, "needle", split="heldout",
                           needle_distractors=3)
        assert len(held.statements) == 1
        rng = random.Random(seed)  # the draws of runs before the setting: one needle, then its document
        before = build_doc(bpe, rng, Filler(bpe), 12 * 32 - 5, 32, needle_facts(rng, "train"), 0, task="needle")
        assert _needle_doc(bpe, seed, needle_distractors=0).tokens == before.tokens


def test_needle_distractors_are_refused_below_zero():
    from docqa.errors import ConfigError
    from docqa.train.loop import TrainConfig, check_settings

    check_settings(TrainConfig(needle_distractors=3))
    with pytest.raises(ConfigError, match="needle_distractors=-1"):
        check_settings(TrainConfig(needle_distractors=-1))


def test_code_pieces_are_refused_below_zero():
    from docqa.errors import ConfigError
    from docqa.train.loop import TrainConfig, check_settings

    check_settings(TrainConfig(code_pieces=512))
    with pytest.raises(ConfigError, match="code_pieces=-1: give 0"):
        check_settings(TrainConfig(code_pieces=-1))


def _people_in(tok, doc) -> set[str]:
    text = tok.decode(doc.tokens)
    return {p for p in ph.PEOPLE if re.search(rf"\b{p}\b", text)}


def test_track_people_sets_how_many_people_a_training_story_moves(bpe):
    # 1-3 people (the default) make "the latest place written" the answer in about two stories of
    # three, the bench's 3 people in about one of three: recency pays in training more than in use
    S, filler = 32, Filler(bpe)
    default = [sample_task(bpe, random.Random(seed), filler, 16 * S, S, "track") for seed in range(40)]
    assert min(len(_people_in(bpe, d)) for d in default) == 1
    for seed in range(40):  # the default draws as every run before track_people drew
        rng = random.Random(seed)
        n_moves = max(1, min(rng.randint(2, 8), ((16 - 1) * S - 32) // 24))
        story, ask = tracking_facts(rng, min(rng.randint(1, 3), n_moves), n_moves, "train")
        before = build_doc(bpe, rng, filler, 16 * S, S, story, ask, depths=sorted(rng.random() for _ in story),
                           task="track")
        assert before.tokens == default[seed].tokens
        doc = sample_task(bpe, random.Random(seed), filler, 16 * S, S, "track", track_people=(3, 4))
        assert 3 <= len(_people_in(bpe, doc)) <= 4
    with pytest.raises(ValueError, match="track_people"):
        sample_task(bpe, random.Random(0), filler, 16 * S, S, "track", track_people=(0, 2))
    with pytest.raises(ValueError, match="track_people"):
        sample_task(bpe, random.Random(0), filler, 16 * S, S, "track", track_people=(3, 2))


def test_composed_tracking_parts_are_many_and_share_no_heldout_wording():
    rng = random.Random(0)
    moves = {ph.composed_move(rng) for _ in range(5000)}
    wheres = {ph.composed_where(rng) for _ in range(5000)}
    assert len(moves) > 1000 and len(wheres) > 500
    for m in moves:
        assert m.count("{p}") == 1 and m.count("{l}") == 1 and m.index("{p}") < m.index("{l}"), m
        assert m[0].isupper() or m.startswith("{p}"), m
        assert not re.search(r"journey|head|\bthen\b", m, re.I), m  # the held-out moves' wording
    for q in wheres:
        assert q.count("{p}") == 1 and "{l}" not in q and q[0].isupper(), q
        assert not re.search(r"\bgo\b|\blast\b|where did \{p\}", q, re.I), q  # the held-out question's
    assert not moves & set(ph.split(ph.MOVES, "heldout")) and not wheres & set(ph.split(ph.WHERE, "heldout"))
    wide = {ph.composed_move(rng, wide_moves=1.0) for _ in range(5000)}
    assert len(wide) > 3000 and not wide & moves
    for m in wide:
        assert m.count("{p}") == 1 and m.count("{l}") == 1 and m.index("{p}") < m.index("{l}"), m
        assert not re.search(r"journey|head|\bthen\b|\blast\b", m, re.I), m


def test_composed_moves_without_wide_verbs_draw_as_before():
    for seed in range(50):
        rng, replay = random.Random(seed), random.Random(seed)
        move = ph.composed_move(rng, wide_moves=0.0)
        opener, verb, closer = (replay.choice(ph.COMPOSED_MOVE_OPENERS), replay.choice(ph.COMPOSED_MOVE_VERBS),
                                replay.choice(ph.COMPOSED_MOVE_CLOSERS))
        assert move == ph._sentence(opener + "{p} " + verb + " the {l}" + closer)
        assert rng.random() == replay.random()


def test_open_people_are_made_up_in_training_only_and_never_held_out():
    held = set(ph.split(ph.PEOPLE, "heldout"))
    for split, share in (("train", 1.0), ("heldout", 1.0), ("train", 0.0)):
        rng = random.Random(5)
        for _ in range(200):
            story, ask = tracking_facts(rng, 3, 6, split, open_people=share)
            names = {s.removeprefix(" Then").split()[0] for s, _ in story}  # the fixed moves start with the person
            assert len(names) == 3
            if split == "train" and share:
                assert not names & set(ph.PEOPLE) - set(ph.split(ph.PEOPLE, "train")) and not names & held
                assert not names <= set(ph.PEOPLE)  # made up, bar a chance match with a training person
            else:
                assert names <= set(ph.split(ph.PEOPLE, split))
    rng = random.Random(0)
    made = {ph.open_person(rng) for _ in range(20000)}
    assert len(made) > 5000 and not made & held and not made & set(ph.split(ph.NAMES, "heldout"))


def _story_people_places(story):
    people = "|".join(ph.PEOPLE)
    places = "|".join(ph.PLACES)
    return [(re.search(rf"\b({people})\b", s).group(1), re.search(rf"the ({places})\b", s).group(1))
            for s, _ in story]


def test_tracking_composes_moves_and_questions_in_training_only():
    fixed_moves = {m.format(p=p, l=l) for m in ph.MOVES for p in ph.PEOPLE for l in ph.PLACES}
    fixed_where = {w.format(p=p) for w in ph.WHERE for p in ph.PEOPLE}
    for split, composed, lo, hi in (("train", 0.0, 0.0, 0.0), ("train", 0.5, 0.4, 0.6), ("heldout", 1.0, 0.0, 0.0)):
        rng = random.Random(3)
        moves, asked = [], []
        for _ in range(200):
            story, ask = tracking_facts(rng, 3, 6, split, composed=composed)
            moves += [s.strip() not in fixed_moves for s, _ in story]
            asked.append(story[ask][1][0] not in fixed_where)
            person = re.search(r"\b(" + "|".join(ph.PEOPLE) + r")\b", story[ask][1][0]).group(1)
            assert [l for p, l in _story_people_places(story) if p == person][-1] == story[ask][1][1]
        assert lo <= sum(moves) / len(moves) <= hi and lo <= sum(asked) / len(asked) <= hi, (split, composed)


def test_tracking_without_composed_parts_draws_as_before():
    """composed=0 draws nothing extra: the stories of earlier runs replay. The replay is the draws
    tracking_facts made before the knob: people, then a place, a move and a question per move."""
    for seed in range(20):
        rng, replay = random.Random(seed), random.Random(seed)
        story, ask = tracking_facts(rng, 3, 5, "train", composed=0.0)
        people = replay.sample(ph.split(ph.PEOPLE, "train"), 3)
        for i, (statement, (question, place)) in enumerate(story):
            p = people[i] if i < 3 else replay.choice(people)
            l = replay.choice(ph.PLACES)
            move, where = replay.choice(ph.split(ph.MOVES, "train")), replay.choice(ph.split(ph.WHERE, "train"))
            assert (statement, question, place) == (" " + move.format(p=p, l=l) + " ", where.format(p=p), l)
        replay.choice(people)
        assert rng.random() == replay.random()


def test_composed_tracking_documents_store_every_move_before_the_question(bpe):
    S, fixed = 32, 0
    for seed in range(40):
        doc = sample_task(bpe, random.Random(seed), Filler(bpe), 16 * S, S, "track", track_people=(3, 4),
                          composed_track=1.0)
        asked = bpe.decode(doc.tokens[doc.question_start:doc.answer_start])
        fixed += any(asked == f"<|question|>{w.format(p=p)}<|answer|>" for w in ph.WHERE for p in ph.PEOPLE)
        assert doc.answer in bpe.decode(doc.tokens[:doc.question_start // S * S])
    assert fixed <= 4  # a composed question is now and then a training one ("Where is {p}?")


def test_made_up_identifiers_keep_the_subjects_case_style():
    rng = random.Random(0)
    assert [ph.identifier_style(n) for n in ("MAX_SIZE", "X2", "Reader", "HTTPError", "fetch", "_x")] == \
        ["constant", "constant", "class", "class", "function", "function"]
    for style, pattern in (("function", r"[a-z]+(_[a-z]+){0,2}"), ("class", r"([A-Z][a-z]+){1,3}"),
                           ("constant", r"[A-Z]+(_[A-Z]+){0,2}")):
        names = {ph.open_identifier(rng, style) for _ in range(300)}
        assert all(re.fullmatch(pattern, n) and n.isidentifier() for n in names), names
        assert all(ph.identifier_style(n) == style for n in names)
        assert len(names) > 250, "names must not repeat enough for the weights to learn them"
    with pytest.raises(ValueError, match="style 'method'"):
        ph.open_identifier(rng, "method")


def test_code_pieces_cut_long_modules_and_ask_each_piece_about_what_it_shows(bpe, tmp_path):
    from docqa.train.tasks import CodeFiles

    body = "".join(f"def fetch{i}(url{i}, retries=3):\n    return url{i} * {i}\n\n\n" for i in range(30))
    (tmp_path / "long.py").write_text("LIMIT = 7\n\n\n" + body)
    with pytest.raises(ValueError, match="no module under"):
        CodeFiles(bpe, root=tmp_path, max_tokens=200)  # whole modules only: this one is longer
    code = CodeFiles(bpe, root=tmp_path, max_tokens=200, pieces=True)
    assert len(code.files) > 3 and all(len(ids) <= 200 for ids, _ in code.files)
    shown = [bpe.decode(ids) for ids, _ in code.files]
    assert all(s.startswith("<|doc|>### long.py\n") for s in shown)
    assert "".join(s.split("\n", 1)[1] for s in shown) == (tmp_path / "long.py").read_text(), "every statement, once"
    for s, (_, facts) in zip(shown, code.files):
        assert facts and all(f"def {f.subject}(" in s or f"{f.subject} =" in s for f in facts)


def test_code_needles_hide_made_up_definitions_and_ask_one_in_the_split_phrasing(bpe, tmp_path):
    from docqa.train.tasks import CodeFiles

    (tmp_path / "mod.py").write_text("LIMIT = 7\n\n\ndef fetch(url, retries=3):\n    return url\n\n\n"
                                     "class Reader(Base):\n    pass\n")
    code = CodeFiles(bpe, root=tmp_path)
    assert code.answers == {"params": ["url, retries"], "base": ["Base"], "constant": ["7"]}
    for split in ("train", "heldout"):
        rng = random.Random(split)
        for _ in range(20):
            doc = sample_task(bpe, rng, Filler(bpe), 512, 32, "code_needle", max_facts=4, code=code, split=split)
            stream = bpe.decode(doc.tokens[:doc.question_start // 32 * 32])
            question = bpe.decode(doc.tokens[doc.question_start:doc.answer_start])
            kind, subject = _code_question(question, split)
            told = {"params": f"def {subject}({doc.answer}):", "base": f"class {subject}({doc.answer}):",
                    "constant": f"{subject} = {doc.answer}\n"}[kind]
            assert doc.task == "code_needle" and told in stream and subject not in ("fetch", "Reader", "LIMIT")
            # the value-write and address losses find every value, though code gives it no leading space
            assert all(k >= 0 for k in doc.keys)
            values = [bpe.decode(doc.tokens[k:e]) for k, e in zip(doc.keys, doc.value_ends)]
            assert doc.answer in values and set(values) <= {"url, retries", "Base", "7"}
    with pytest.raises(ValueError, match="the code_needle task needs CodeFiles"):
        sample_task(bpe, random.Random(0), Filler(bpe), 512, 32, "code_needle")


def test_field_texts_are_copyright_files_and_test_mails_only_when_asked(tmp_path, monkeypatch):
    from docqa.train import corpus

    docs, lib = tmp_path / "doc", tmp_path / "lib"
    (docs / "pkg").mkdir(parents=True)
    (docs / "pkg" / "copyright").write_text("Format: dep5\nUpstream-Name: pkg\n")
    (docs / "pkg" / "README.txt").write_text("A readme. " * 50)
    (docs / "zlib").mkdir()  # its stanzas first, then license texts the prose pool has: cut
    (docs / "zlib" / "copyright").write_text("Files: *\nLicense: Zlib\n" + "Permission is granted. " * 400)
    (lib / "test" / "test_email" / "data").mkdir(parents=True)
    (lib / "test" / "test_email" / "data" / "msg_01.txt").write_text("From: a@b\nSubject: hi\n\nbody\n")
    (lib / "mod.py").write_text('"""' + "A module docstring that is long enough. " * 4 + '"""\n' + "X = 1\n" * 80)
    monkeypatch.setattr(corpus, "DOC_ROOT", docs)
    monkeypatch.setattr(corpus, "MAN_ROOT", tmp_path / "man")
    monkeypatch.setattr(corpus, "stdlib_root", lambda: lib)
    before = corpus.load_texts()
    assert {t.kind for t in before} == {"code", "prose"}, "the default kinds read no field text"
    got = corpus.load_texts(("code", "prose", "fields"))
    assert got[:len(before)] == before, "asking for fields leaves the other kinds' text as it was"
    fields = [(t.source, t.text) for t in got[len(before):]]
    long = "Files: *\nLicense: Zlib\n" + "Permission is granted. " * 400
    assert fields == [("debian-copyright", "Format: dep5\nUpstream-Name: pkg\n"),
                      ("debian-copyright", long[:corpus.FIELD_CHARS]),
                      ("stdlib-mail", "From: a@b\nSubject: hi\n\nbody\n")]
    assert all(t.kind == "fields" for t in got[len(before):])


def test_field_docs_are_the_share_of_apart_files_cut_from_the_fields_pool(bpe):
    from docqa.train.corpus import Text

    texts = [Text("prose", "x", "p", "Plain words about rivers and hills. " * 200),
             Text("fields", "debian-copyright", "c", "Upstream-Name: zlib\nLicense: Zlib\n" * 200)]
    filler = Filler(bpe, prose_fraction=1.0, texts=texts)
    filler.short_docs, filler.short_docs_apart = 1.0, True
    before = filler.tokens(random.Random(3), 2000)
    filler.field_docs = 0.0  # set, at 0, it draws nothing more: runs before field_docs replay
    assert filler.tokens(random.Random(3), 2000) == before

    def kinds(share: float, seed: int) -> list[str]:
        filler.field_docs = share
        out = []
        for body in _bodies(bpe, filler.tokens(random.Random(seed), 6000)):
            text = bpe.decode(body)
            assert ("License" in text or "Upstream" in text) != ("rivers" in text or "hills" in text), text
            out.append("fields" if "License" in text or "Upstream" in text else "prose")
        return out

    assert set(kinds(1.0, 0)) == {"fields"}
    mixed = [k for seed in range(4) for k in kinds(0.5, seed)]
    assert 0.3 < mixed.count("fields") / len(mixed) < 0.7, mixed
    assert filler.synthetic().field_docs == 0.0  # the synthetic filler is the simple pool alone
    bare = Filler(bpe, prose_fraction=1.0, texts=texts[:1])
    bare.short_docs, bare.short_docs_apart, bare.field_docs = 1.0, True, 0.5
    with pytest.raises(ValueError, match="fields"):
        bare.tokens(random.Random(0), 6000)


def test_field_docs_needs_apart_short_files_of_the_corpus():
    from docqa.errors import ConfigError
    from docqa.train.loop import TrainConfig, check_settings

    check_settings(TrainConfig(text="corpus", short_docs=0.5, short_docs_apart=True, field_docs=0.5))
    for bad in (dict(text="corpus", short_docs=0.5, field_docs=0.5),
                dict(short_docs=0.5, short_docs_apart=True, field_docs=0.5),
                dict(text="corpus", short_docs_apart=True, field_docs=0.5)):
        with pytest.raises(ConfigError, match="field_docs"):
            check_settings(TrainConfig(**bad))
    with pytest.raises(ConfigError, match="field_docs=1.5"):
        check_settings(TrainConfig(text="corpus", short_docs=0.5, short_docs_apart=True, field_docs=1.5))
