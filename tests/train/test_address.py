"""The address loss (docqa/train/address.py): where a named-facts document's keys and queries are,
the loss against a slow per-question computation, and the loss a training run logs."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from docqa.errors import ConfigError
from docqa.model.config import ModelConfig
from docqa.model.tokenizer import BPETokenizer, ByteTokenizer, load_tokenizer
from docqa.model.transformer import InfiniTransformer
from docqa.train import phrasings as ph
from docqa.train.address import address_loss, address_targets
from docqa.train.loop import (TrainConfig, check_settings, hard_negative_loss, make_batch, text_positions, text_write_loss,
                              train, value_positions, value_write_loss)
from docqa.train.tasks import Filler, TaskDoc, sample_task, value_lead

from by_path import ROOT


@pytest.fixture(scope="module")
def bpe():
    text = " ".join(ph.STATEMENTS + ph.FACT_STATEMENTS + ph.QUESTIONS + ph.NAMES) + " The grass is green. "
    return BPETokenizer.train([text * 5], vocab_size=600)


def test_the_informative_token_skips_an_answer_prefix_that_stands_alone():
    tok = load_tokenizer(ROOT / "checkpoints" / "bpe-c2" / "tokenizer.json")
    digits = tok.encode(tok.answer_prefix + "016097")
    assert tok.decode(digits[:1]) == tok.answer_prefix and value_lead(tok, digits) == 1
    assert tok.decode(digits[1:2]) == "016"
    word = tok.encode(tok.answer_prefix + "file")
    assert len(word) == 1 and value_lead(tok, word) == 0


@pytest.mark.parametrize("task", ["facts", "kv"])
@pytest.mark.parametrize("tok_name", ["bpe", "bytes"])
def test_each_question_is_addressed_to_the_key_of_the_fact_it_asks(bpe, task, tok_name):
    """The token after a question's query position is its answer's first informative token, and
    the asked fact's key position holds that same token inside a statement of that same value,
    stored before the questions' segment."""
    tok = bpe if tok_name == "bpe" else ByteTokenizer()
    S, filler, found, asks = (32, Filler(tok), 0, 0) if tok_name == "bpe" else (64, Filler(tok), 0, 0)
    end, opens = (tok.encode(t, allow_special=True)[0] for t in ("<|end|>", "<|answer|>"))
    for seed in range(10):
        doc = sample_task(tok, random.Random(seed), filler, 14 * S if tok_name == "bpe" else 40 * S, S, task, max_facts=8, questions=3)
        assert len(doc.keys) >= 1 and 1 <= len(doc.asks) <= 3
        found += sum(p >= 0 for p in doc.keys) / len(doc.keys)
        for a, i in doc.asks:
            assert doc.keys[i] >= 0, "every fact of these phrasings has its value as tokens of its own"
            asks += 1
            stop = doc.tokens.index(end, a)
            answer = tok.decode(doc.tokens[a + 1:stop])  # from the informative token to <|end|>
            # the query is <|answer|> itself, or the answer's prefix standing alone after it
            assert doc.tokens[a] == opens or (tok.decode(doc.tokens[a:a + 1]) == tok.answer_prefix
                                              and doc.tokens[a - 1] == opens)
            assert doc.target[a + 1] and doc.tokens[a + 1] == doc.tokens[doc.keys[i]]
            statement = tok.decode(doc.tokens[doc.keys[i] - 12:doc.keys[i] + 12])
            assert answer.strip() in statement
            assert doc.keys[i] < doc.question_start // S * S
    assert found == 10 and asks >= 20


def _doc(keys, asks):
    return TaskDoc([0], [False], "", 0, 0, "facts", tuple(keys), tuple(asks))


def test_targets_drop_facts_whose_key_was_not_found_and_documents_with_one_fact():
    docs = [_doc([5, -1, 9], [(20, 0), (24, 1), (28, 2)]),  # fact 1 not found: its question goes
            _doc([5, -1], [(20, 0)]),  # one candidate left: nothing to tell apart
            _doc([], []),  # a needle or passkey
            _doc([3, 7], [(30, 1)])]
    assert address_targets(docs) == [(0, [5, 9], [(20, 0), (28, 1)]), (3, [3, 7], [(30, 1)])]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_address_loss_is_the_mean_cross_entropy_of_the_asked_key_per_question_and_head(sign):
    torch.manual_seed(0)
    B, H, T, D = 3, 2, 40, 8
    qk = [(torch.randn(B, H, T, D, dtype=torch.float64), torch.randn(B, H, T, D, dtype=torch.float64))
          for _ in range(2)]
    targets = [(4, [3, 9, 15], [(30, 2), (33, 0)]), (6, [1, 2], [(38, 1)]), (7, [5, 6, 7, 8], [(20, 3)])]
    loss, acc = address_loss(qk, targets, scale=7.0, sign=sign)
    terms, right = [], []
    for q, k in qk:
        for b, (_, keys, asks) in enumerate(targets):
            for a, asked in asks:
                for h in range(H):
                    cos = [float(q[b, h, a] @ k[b, h, p] / (q[b, h, a].norm() * k[b, h, p].norm())) for p in keys]
                    logits = [sign * 7.0 * c for c in cos]
                    top = max(logits)
                    lse = top + torch.tensor([c - top for c in logits], dtype=torch.float64).exp().sum().log()
                    terms.append(float(lse) - logits[asked])
                    right.append(max(range(len(keys)), key=lambda j: logits[j]) == asked)
    assert loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-5)
    assert acc == pytest.approx(sum(right) / len(right))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_gram_address_loss_pulls_cosines_to_the_one_hot_and_fact_keys_apart(sign):
    torch.manual_seed(1)
    B, H, T, D = 2, 2, 30, 6
    qk = [(torch.randn(B, H, T, D, dtype=torch.float64), torch.randn(B, H, T, D, dtype=torch.float64))]
    targets = [(0, [3, 9, 15], [(25, 2), (27, 0)]), (1, [1, 2], [(28, 1)])]
    loss, _ = address_loss(qk, targets, scale=99.0, sign=sign, kind="gram")
    cos = lambda a, b: float(a @ b / (a.norm() * b.norm()))
    terms = []
    for b, (_, keys, asks) in enumerate(targets):
        q, k = qk[0][0][b], qk[0][1][b]
        for a, asked in asks:
            for h in range(H):
                query = sum((cos(q[h, a], k[h, p]) - (sign if j == asked else 0.0)) ** 2 for j, p in enumerate(keys))
                pairs = [cos(k[h, p], k[h, r]) ** 2 for p in keys for r in keys if p != r]
                terms.append(query + sum(pairs) / len(pairs))
    assert loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-6)
    # the minimum: orthonormal keys and each query on (sign x) its fact's key
    k = torch.zeros(1, 1, 8, 4, dtype=torch.float64)
    k[0, 0, [1, 2, 3]] = torch.eye(4, dtype=torch.float64)[:3]
    q = torch.zeros_like(k)
    q[0, 0, 6] = sign * k[0, 0, 2]
    assert address_loss([(q, k)], [(0, [1, 2, 3], [(6, 1)])], 1.0, sign, "gram")[0].item() == pytest.approx(0.0, abs=1e-12)


ADDRESS = dict(preset="test", model_overrides={"segment_len": 32}, batch=3, steps=1, warmup=1, save_every=1,
               min_segments=8, max_segments=8, start_max_segments=8, curriculum_steps=1, history_fraction=0.0,
               task_mix={"facts": 1}, max_facts=6, questions=3, eval_every=0, lm_sample=1.0, seed=3)

LONG = dict(min_segments=16, max_segments=16, start_max_segments=16)  # room for the byte facts


def test_text_negatives_follow_the_facts_and_come_from_the_segments_before_the_questions():
    doc = replace(_doc([5, 9, -1], [(70, 1), (74, 2)]), question_start=66)  # segments of 16: text is 0..63
    plain = address_targets([doc])
    assert plain == [(0, [5, 9], [(70, 1)])]
    (row, keys, asks), = address_targets([doc], 16, 10, random.Random(0))
    assert (row, keys[:2], asks) == plain[0]
    text = keys[2:]
    assert len(set(text)) == 10 and all(0 <= p < 64 and p not in (5, 9) for p in text)
    assert address_targets([doc], 16, 10, random.Random(0)) == [(row, keys, asks)]  # drawn by the rng given
    (_, every, _), = address_targets([doc], 16, 500, random.Random(1))  # fewer tokens than asked for: all
    assert sorted(every[2:]) == [p for p in range(64) if p not in (5, 9)]
    needle = replace(_doc([12], [(70, 0)]), question_start=66)
    assert address_targets([needle]) == []  # one fact and nothing to tell it from
    (_, [key, *others], asks), = address_targets([needle], 16, 3, random.Random(2))
    assert key == 12 and asks == [(70, 0)] and len(set(others)) == 3 and 12 not in others


def test_a_run_logs_the_address_loss_of_its_batch_before_the_update(tmp_path):
    """The first step's logged address loss is the loss of the first batch on the initial model, as
    computed here without the training loop's hooks."""
    tc = TrainConfig(**ADDRESS, address_weight=0.5, address_layers=[0, 1])
    train(tmp_path / "r", tc)
    entry = json.loads((tmp_path / "r" / "log.jsonl").read_text().splitlines()[0])

    torch.manual_seed(tc.seed)
    model = InfiniTransformer(ModelConfig.from_name("test", vocab_size=ByteTokenizer().vocab_size, segment_len=32))
    rng = random.Random(f"{tc.seed}:0")
    x, _, _, _, docs = make_batch(ByteTokenizer(), rng, Filler(), tc, 0, 32)
    targets = address_targets(docs)
    assert targets, "a facts batch has questions to address"
    rows = [t[0] for t in targets]
    qk, h = [], model.emb(x)
    memory = model.new_memory(x.shape[0])
    with torch.no_grad():
        for block, mem in zip(model.blocks, memory.layers):
            q, k, _ = block.attn.projections(block.norm1(h)[rows])
            qk.append((q, k))
            h, _ = block(h, mem)
    loss, acc = address_loss(qk, targets, tc.address_scale)
    assert entry["address"][0] == pytest.approx(loss.item(), abs=1e-3)
    assert entry["address"][1] == pytest.approx(acc, abs=1e-3)


def test_text_negatives_leave_the_batch_alone_and_make_the_address_harder(tmp_path):
    """The same first batch (the logged write strength of its forward is the same) with text among
    the candidates: a softmax over more logits gives the asked key a larger cross-entropy."""
    logged = {}
    for run, n in (("off", 0), ("on", 16)):
        train(tmp_path / run, TrainConfig(**ADDRESS, address_weight=1.0, address_negatives=n))
        logged[run] = json.loads((tmp_path / run / "log.jsonl").read_text().splitlines()[0])
    assert logged["on"]["write"] == logged["off"]["write"]
    assert logged["on"]["address"][0] > logged["off"]["address"][0]
    assert logged["on"]["address"][1] <= logged["off"]["address"][1]


def test_the_address_loss_trains_the_queries_and_keys_it_reads(tmp_path):
    """Off, the run's first update is the language loss's alone; on, it differs in the memory's
    projections of the chosen layer."""
    def qkv(run, **extra):
        train(tmp_path / run, TrainConfig(**ADDRESS, **extra))
        from docqa.model.io import load_model
        return load_model(tmp_path / run / "checkpoint" / "model").model.blocks[1].attn.qkv.weight

    off, on = qkv("off"), qkv("on", address_weight=1.0)
    assert not torch.allclose(off, on)


@pytest.mark.parametrize("extra, message", [
    (dict(address_layers=[5]), "not layers"),
    (dict(address_sign=0.5), "1 or -1"),
    (dict(address_negatives=-1), "0 or more"),
    (dict(address_kind="softmax"), "choose 'nce' or 'gram'"),
    (dict(model_overrides={"segment_len": 32, "feature_map": "elu1", "update": "delta"}), "feature_map='l2'"),
])
def test_address_settings_that_cannot_run_are_refused(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        train(tmp_path / "r", TrainConfig(**{**ADDRESS, "address_weight": 1.0, **extra}))


def test_capturing_the_address_queries_leaves_the_logged_write_strength_alone(tmp_path):
    """The first step's mean write strength (what write_penalty weighs) is that of the batch's
    forward, with or without the address loss's second look at the chosen layers."""
    logged = []
    for run, weight in (("off", 0.0), ("on", 1.0)):
        train(tmp_path / run, TrainConfig(**ADDRESS, address_weight=weight, write_penalty=1.0))
        logged.append(json.loads((tmp_path / run / "log.jsonl").read_text().splitlines()[0])["write"])
    assert logged[0] == logged[1]


def test_a_run_logs_the_write_strength_at_the_facts_key_tokens(tmp_path):
    tc = TrainConfig(**ADDRESS)
    train(tmp_path / "r", tc)
    entry = json.loads((tmp_path / "r" / "log.jsonl").read_text().splitlines()[0])
    torch.manual_seed(tc.seed)
    model = InfiniTransformer(ModelConfig.from_name("test", vocab_size=ByteTokenizer().vocab_size, segment_len=32))
    _, _, _, _, docs = make_batch(ByteTokenizer(), random.Random(f"{tc.seed}:0"), Filler(), tc, 0, 32)
    x = torch.tensor([d.tokens + [0] * (max(len(e.tokens) for e in docs) - len(d.tokens)) for d in docs])
    betas, h = [], model.emb(x)
    with torch.no_grad():
        for block, mem in zip(model.blocks, model.new_memory(len(docs)).layers):
            betas.append(block.attn.projections(block.norm1(h))[2])  # (B, H, T), gated as trained (no gate here)
            h, _ = block(h, mem)
    at = [beta[r, :, p] for beta in betas for r, d in enumerate(docs) for p in d.keys if p >= 0]
    assert entry["value_write"] == pytest.approx(float(torch.cat(at).mean()), abs=1e-4)


def test_the_value_write_loss_raises_the_write_strength_at_the_key_tokens(tmp_path):
    last = {}
    for run, weight in (("off", 0.0), ("on", 5.0)):
        train(tmp_path / run, TrainConfig(**{**ADDRESS, **LONG, "steps": 6, "lr": 1e-2}, value_write_weight=weight))
        last[run] = json.loads((tmp_path / run / "log.jsonl").read_text().splitlines()[-1])["value_write"]
    assert last["on"] > last["off"] + 0.1


def test_the_value_write_loss_of_another_task_leaves_a_facts_run_as_it_was(tmp_path):
    logs = {}
    for run, extra in (("off", {}), ("track", {"value_write_weight": 5.0, "value_write_tasks": ["track"]}),
                       ("facts", {"value_write_weight": 5.0, "value_write_tasks": ["facts"]})):
        train(tmp_path / run, TrainConfig(**{**ADDRESS, **LONG, "steps": 6, "lr": 1e-2}, **extra))
        logs[run] = [json.loads(line)["value_write"] for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]
    assert logs["track"] == logs["off"]  # a facts-only run has no tracking values to ask writes at
    assert logs["facts"][-1] > logs["off"][-1] + 0.1


def test_the_value_write_loss_of_chosen_layers_reaches_only_their_write_strengths():
    torch.manual_seed(0)
    per_layer = [torch.randn(5, 2, requires_grad=True) for _ in range(3)]
    loss = value_write_loss(per_layer, [0, 2])
    loss.backward()
    assert per_layer[1].grad is None or not per_layer[1].grad.any()
    assert per_layer[0].grad.abs().min() > 0 and per_layer[2].grad.abs().min() > 0
    chosen = torch.cat([per_layer[0], per_layer[2]]).detach().double()
    assert float(loss.detach()) == pytest.approx(float(-torch.log(torch.sigmoid(chosen)).mean()), rel=1e-6)
    assert float(value_write_loss(per_layer).detach()) == pytest.approx(
        float(-torch.log(torch.sigmoid(torch.cat(per_layer).detach().double())).mean()), rel=1e-6)


@pytest.mark.parametrize("name", ["value_write_layers", "hard_negative_layers"])
def test_loss_layers_out_of_range_are_refused(tmp_path, name):
    with pytest.raises(ConfigError, match=name):
        train(tmp_path / "r", TrainConfig(**ADDRESS, value_write_weight=1.0, hard_negative_weight=1.0, **{name: [7]}))


@pytest.mark.parametrize("bad, message", [(dict(value_write_span="all"), "value_write_span='all'"),
                                          (dict(open_names=1.5), "open_names=1.5"),
                                          (dict(composed_fact_frames=-0.1), "composed_fact_frames=-0.1"),
                                          (dict(hard_negative_weight=1.0, hard_negative_beta=1.0), "hard_negative_beta=1.0"),
                                          (dict(hard_negative_weight=-1.0), "hard_negative_weight=-1.0")])
def test_bad_settings_are_refused_before_the_first_step(tmp_path, bad, message):
    with pytest.raises(ConfigError, match=message):
        train(tmp_path / "r", TrainConfig(**{**ADDRESS, **bad}), stop_at=1)
    assert not (tmp_path / "r").exists()  # refused before the run directory, the model or the text


def test_a_run_logs_the_write_strength_at_the_key_tokens_per_layer(tmp_path):
    train(tmp_path / "r", TrainConfig(**ADDRESS))
    entry = json.loads((tmp_path / "r" / "log.jsonl").read_text().splitlines()[0])
    by_layer = entry["value_write_by_layer"]
    assert len(by_layer) == 2 and sum(by_layer) / 2 == pytest.approx(entry["value_write"], abs=2e-4)


def test_the_text_write_loss_is_minus_log_one_minus_beta_at_every_real_token_outside_the_statements():
    torch.manual_seed(1)
    docs = [TaskDoc([5] * 7, [False] * 7, "", 0, 0, keys=(2, -1, 4), statements=((1, 3), (3, 3), (4, 5))),
            TaskDoc([5] * 3, [False] * 3, "", 0, 0, keys=(0,), statements=((0, 1),))]
    mask = text_positions(docs, 8)
    assert mask.tolist() == [[True, False, False, True, False, True, True, False],
                             [False, True, True, False, False, False, False, False]]
    writes = [torch.randn(2, 2, 4, 3) for _ in range(2)]  # (B, N, S, H): 2 segments of 4 tokens
    slow = [-math.log(1 - 1 / (1 + math.exp(-float(w[b, t // 4, t % 4, h]))))
            for w in writes[1:] for b in range(2) for t in range(8) if mask[b, t] for h in range(3)]
    assert float(text_write_loss(writes, mask, [1])) == pytest.approx(sum(slow) / len(slow), rel=1e-5)


def test_the_text_write_loss_lowers_the_write_strength_of_the_text(tmp_path):
    logged = {}
    for run, weight in (("off", 0.0), ("on", 5.0)):
        train(tmp_path / run, TrainConfig(**{**ADDRESS, **LONG, "steps": 6, "lr": 1e-2}, value_write_negatives=weight))
        logged[run] = json.loads((tmp_path / run / "log.jsonl").read_text().splitlines()[-1])["write"]
    assert logged["on"] < logged["off"] - 0.1


def test_the_hard_negative_loss_is_minus_log_one_minus_beta_at_the_text_tokens_over_the_threshold_alone():
    torch.manual_seed(2)
    mask = torch.tensor([[True, False, True, True, True, False, True, True], [False, True, True, False] + [False] * 4])
    writes = [(2.0 * torch.randn(2, 2, 4, 3)).requires_grad_() for _ in range(2)]  # (B, N, S, H)
    loss, n = hard_negative_loss(writes, mask, 0.3, [1])
    beta = lambda b, t, h: 1 / (1 + math.exp(-float(writes[1].detach()[b, t // 4, t % 4, h])))
    slow = [-math.log(1 - beta(b, t, h)) for b in range(2) for t in range(8) if mask[b, t] for h in range(3)
            if beta(b, t, h) > 0.3]
    assert 0 < n == len(slow) < 3 * int(mask.sum())  # some of the text's heads are over 0.3, not all
    assert float(loss.detach()) == pytest.approx(sum(slow) / n, rel=1e-5)
    loss.backward()
    assert writes[0].grad is None  # layer 0 was not chosen
    grad = writes[1].grad.flatten(1, 2)[:, :8]
    hard = mask[..., None] & (torch.sigmoid(writes[1].detach().flatten(1, 2)) > 0.3)
    assert (grad[hard] > 0).all() and not grad[~hard].any()  # only the hard ones are pushed, each down
    quiet = [torch.full((2, 2, 4, 3), -5.0, requires_grad=True)]  # every beta under 0.01
    loss, n = hard_negative_loss(quiet, mask, 0.3)
    assert n == 0 and float(loss.detach()) == 0.0
    loss.backward()
    assert not quiet[0].grad.any()


def test_the_hard_negative_loss_lowers_the_write_strength_of_the_text_and_is_logged(tmp_path):
    logged = {}
    for run, weight in (("off", 0.0), ("on", 5.0)):
        train(tmp_path / run, TrainConfig(**{**ADDRESS, **LONG, "steps": 6, "lr": 1e-2}, hard_negative_weight=weight,
                                          hard_negative_beta=0.3))
        logged[run] = [json.loads(line) for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]
    assert "hard_negatives" not in logged["off"][0]
    first, last = logged["on"][0]["hard_negatives"], logged["on"][-1]["hard_negatives"]
    assert first[0] > 0 and first[1] > -math.log(0.7)  # every counted token is over 0.3: its loss over -log .7
    assert last[0] < first[0]
    assert logged["on"][-1]["write"] < logged["off"][-1]["write"] - 0.1


def test_a_task_document_records_each_facts_statement_and_value_span():
    tok = load_tokenizer(ROOT / "checkpoints" / "bpe-c2" / "tokenizer.json")
    doc = sample_task(tok, random.Random(5), Filler(tok), 1024, 128, "facts", max_facts=6, questions=3)
    assert len(doc.statements) == len(doc.keys) == len(doc.value_ends) > 1
    for (start, end), key, stop in zip(doc.statements, doc.keys, doc.value_ends):
        text = tok.decode(doc.tokens[start:end])
        assert key >= 0 and start <= key < stop <= end
        assert tok.decode(doc.tokens[key:stop]).strip() in text and text.strip().endswith(".")
    asked = [i for _, i in doc.asks]
    for i in asked:  # every asked fact's value is the answer the document trains
        value = tok.decode(doc.tokens[doc.keys[i]:doc.value_ends[i]]).strip()
        assert value in tok.decode(doc.tokens[doc.question_start:])


def test_value_positions_of_the_whole_value():
    docs = [TaskDoc([5] * 9, [False] * 9, "", 0, 0, keys=(2, -1, 6), value_ends=(5, -1, 7))]
    rows, at = value_positions(docs, "value")
    assert at.tolist() == [2, 3, 4, 6] and rows.tolist() == [0, 0, 0, 0]
    assert value_positions(docs)[1].tolist() == [2, 6]
    with pytest.raises(ConfigError, match="value_write_span"):
        value_positions(docs, "all")


def test_value_positions_of_the_chosen_tasks_only():
    """value_write_tasks: the loss asks for writes at the values of those tasks' documents alone."""
    docs = [TaskDoc([5] * 9, [False] * 9, "", 0, 0, task="needle", keys=(2,), value_ends=(4,)),
            TaskDoc([5] * 9, [False] * 9, "", 0, 0, task="track", keys=(1, 6), value_ends=(3, 8))]
    rows, at = value_positions(docs, "value", tasks=["track"])
    assert rows.tolist() == [1, 1, 1, 1] and at.tolist() == [1, 2, 6, 7]
    assert value_positions(docs, "value", tasks=None)[0].tolist() == [0, 0, 1, 1, 1, 1]
    assert value_positions(docs, "value", tasks=["facts"])[0].numel() == 0
    with pytest.raises(ConfigError, match="value_write_tasks"):
        check_settings(TrainConfig(value_write_weight=1.0, value_write_tasks=["tracking"]))


def _field_texts():
    from docqa.train.corpus import Text

    return [Text("prose", "x", "p", "Plain words about rivers and hills go on. " * 300),
            Text("code", "x", "c", "def f(x):\n    return x + 1\n" * 300),
            Text("fields", "debian-copyright", "f", "Upstream-Name: zlib\nLicense: Zlib\nFiles: *\n" * 300)]


def test_a_document_marks_its_field_files_and_never_a_statement(tmp_path):
    filler = Filler(ByteTokenizer(), code_fraction=0.4, prose_fraction=0.6, texts=_field_texts())
    filler.short_docs, filler.short_docs_apart, filler.field_docs = 1.0, True, 0.5
    rng, again = random.Random(2), random.Random(2)
    assert filler.marked_tokens(rng, 3000)[0] == filler.tokens(again, 3000)  # the same draw, marked
    doc = sample_task(ByteTokenizer(), random.Random(4), filler, 4096, 128, "facts", max_facts=6, questions=2)
    assert len(doc.unasked) >= 2
    tok = ByteTokenizer()
    for start, end in doc.unasked:
        assert 0 < start < end <= doc.question_start
        text = tok.decode(doc.tokens[start:end])
        assert text in _field_texts()[2].text, text  # a field file's text, and no header or statement
        assert not any(s < end and start < e for s, e in doc.statements), "a fact's statement is never unasked"
    marked = sum(e - s for s, e in doc.unasked)
    kv = tok.decode(doc.tokens[:doc.question_start]).count("Upstream-Name")  # every field file's line is marked
    assert kv and marked >= kv * len("Upstream-Name: zlib\n") // 2


def test_the_unasked_write_loss_lowers_the_write_strength_at_field_files(tmp_path, monkeypatch):
    import docqa.train.loop as loop

    monkeypatch.setattr(loop, "load_texts", lambda kinds, max_files: [t for t in _field_texts() if t.kind in kinds])
    logged = {}
    for run, weight in (("off", 0.0), ("on", 5.0)):
        cfg = {**ADDRESS, **LONG, "steps": 6, "lr": 1e-2, "text": "corpus", "code_fraction": 0.4,
               "prose_fraction": 0.6, "short_docs": 1.0, "short_docs_apart": True, "field_docs": 0.5}
        train(tmp_path / run, TrainConfig(**cfg, unasked_write_weight=weight, unasked_write_layers=[0]))
        logged[run] = json.loads((tmp_path / run / "log.jsonl").read_text().splitlines()[-1])["unasked_write_by_layer"]
    assert logged["on"][0] < logged["off"][0] - 0.1, logged


def test_the_unasked_write_loss_needs_field_files():
    with pytest.raises(ConfigError, match="unasked_write_weight=1.0 weighs the writes at field files"):
        check_settings(TrainConfig(unasked_write_weight=1.0))
    with pytest.raises(ConfigError, match="unasked_write_weight=-1.0"):
        check_settings(TrainConfig(text="corpus", short_docs=0.5, short_docs_apart=True, field_docs=0.5,
                                   unasked_write_weight=-1.0))
