import json
import re

import pytest
import torch

from docqa.errors import ConfigError
from docqa.model.config import ModelConfig
from docqa.model.io import load_model
from docqa.model.transformer import InfiniTransformer
from docqa.train.loop import TrainConfig, set_straight_through, train

TINY = dict(preset="test", model_overrides={"segment_len": 64}, batch=2, steps=6, warmup=2,
            save_every=3, min_segments=3, max_segments=4, start_max_segments=3, curriculum_steps=4,
            history_reset=0.3)


def assert_same_weights(run_a, run_b):
    a = load_model(run_a / "checkpoint" / "model").model.state_dict()
    b = load_model(run_b / "checkpoint" / "model").model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    straight = train(tmp_path / "a", TrainConfig(**TINY))
    train(tmp_path / "b", TrainConfig(**{**TINY, "steps": 3}))
    resumed = train(tmp_path / "b", TrainConfig(steps=6))
    assert straight["step"] == resumed["step"] == 6
    assert_same_weights(tmp_path / "a", tmp_path / "b")
    log = [json.loads(l) for l in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3, 4, 5, 6]


def test_gates_get_their_own_learning_rate_and_move(tmp_path):
    train(tmp_path / "r", TrainConfig(**{**TINY, "gate_lr": 0.5, "steps": 3}))
    model = load_model(tmp_path / "r" / "checkpoint" / "model").model
    gates = torch.cat([b.attn.gate for b in model.blocks])
    assert gates.abs().min() > 0.05, "gates initialised at 0 should have moved with lr 0.5"


def test_a_zero_gate_learning_rate_keeps_the_gates_where_they_are(tmp_path):
    train(tmp_path / "r", TrainConfig(**{**TINY, "gate_lr": 0.0, "steps": 2}))
    model = load_model(tmp_path / "r" / "checkpoint" / "model").model
    assert all(float(b.attn.gate.detach().abs().max()) == 0.0 for b in model.blocks)


def test_the_short_conv_gets_its_own_learning_rate_and_the_rest_keeps_its_own(tmp_path):
    """conv_lr moves the conv's taps (and only them) at its own rate; everything else as without it."""
    conv = {**TINY, "steps": 3, "model_overrides": {"segment_len": 64, "short_conv": 3}}
    train(tmp_path / "a", TrainConfig(**conv))
    train(tmp_path / "b", TrainConfig(**conv, conv_lr=0.2))
    a = load_model(tmp_path / "a" / "checkpoint" / "model").model.state_dict()
    b = load_model(tmp_path / "b" / "checkpoint" / "model").model.state_dict()
    identity = torch.zeros_like(a["blocks.0.attn.conv"])
    identity[:, -1] = 1.0
    moved = lambda sd: (sd["blocks.0.attn.conv"] - identity).abs().max()
    assert moved(b) > 10 * moved(a)
    train(tmp_path / "c", TrainConfig(**{**conv, "steps": 1}))  # one step: the same data, the same grads
    train(tmp_path / "d", TrainConfig(**{**conv, "steps": 1}, conv_lr=0.2))
    c = load_model(tmp_path / "c" / "checkpoint" / "model").model.state_dict()
    d = load_model(tmp_path / "d" / "checkpoint" / "model").model.state_dict()
    for k in c:
        if not k.endswith("attn.conv"):
            torch.testing.assert_close(c[k], d[k], msg=k)


def test_stop_at_keeps_the_schedule_of_the_full_run(tmp_path):
    straight = train(tmp_path / "a", TrainConfig(**TINY))
    train(tmp_path / "b", TrainConfig(**TINY), stop_at=4)
    state = json.loads((tmp_path / "b" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 4 and state["train_config"]["steps"] == 6
    resumed = train(tmp_path / "b")
    assert resumed["step"] == straight["step"] == 6
    assert_same_weights(tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize("part", [{"short_conv": 4}, {"memory_qk": True}])
def test_a_new_phase_can_add_a_part_that_starts_as_a_no_op(tmp_path, part):
    """A short conv starts as the identity, the memory's own q/k correction at zero."""
    train(tmp_path / "a", TrainConfig(**{**TINY, "steps": 2}))
    base = load_model(tmp_path / "a" / "checkpoint" / "model").model
    cfg = {**TINY, "steps": 1, "lr": 0.0, "gate_lr": 0.0, "weight_decay": 0.0,
           "init_from": str(tmp_path / "a" / "checkpoint" / "model"), "model_overrides": part}
    train(tmp_path / "b", TrainConfig(**cfg))
    grown = load_model(tmp_path / "b" / "checkpoint" / "model").model
    assert all(getattr(grown.cfg, k) == v for k, v in part.items())
    tokens = torch.randint(0, 256, (1, 150))
    with torch.no_grad():  # lr 0: the grown model computes exactly what its parent did
        torch.testing.assert_close(grown(tokens)[0], base(tokens)[0], rtol=1e-5, atol=1e-5)


def test_a_new_phase_can_widen_the_short_conv_and_computes_what_its_parent_did(tmp_path):
    """New taps reach further back and start at zero; the parent's taps keep their trained values."""
    parent = {**TINY, "steps": 2, "model_overrides": {"segment_len": 64, "short_conv": 2}}
    train(tmp_path / "a", TrainConfig(**parent))
    base = load_model(tmp_path / "a" / "checkpoint" / "model").model
    assert not torch.equal(base.blocks[0].attn.conv[:, 0], torch.zeros_like(base.blocks[0].attn.conv[:, 0]))
    cfg = {**TINY, "steps": 1, "lr": 0.0, "gate_lr": 0.0, "weight_decay": 0.0,
           "init_from": str(tmp_path / "a" / "checkpoint" / "model"), "model_overrides": {"short_conv": 5}}
    train(tmp_path / "b", TrainConfig(**cfg))
    grown = load_model(tmp_path / "b" / "checkpoint" / "model").model
    assert grown.cfg.short_conv == 5
    torch.testing.assert_close(grown.blocks[1].attn.conv[:, 3:], base.blocks[1].attn.conv)
    tokens = torch.randint(0, 256, (1, 150))
    with torch.no_grad():
        torch.testing.assert_close(grown(tokens)[0], base(tokens)[0], rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="narrower"):
        train(tmp_path / "c", TrainConfig(**{**cfg, "model_overrides": {"short_conv": 1}}))


def test_make_batch_weights_answers_and_their_first_token():
    import random

    from docqa.model.tokenizer import ByteTokenizer
    from docqa.train.loop import make_batch
    from docqa.train.tasks import Filler

    tc = TrainConfig(**{**TINY, "first_answer_weight": 4.0, "lm_weight": 0.25})
    x, w, ans, _, _ = make_batch(ByteTokenizer(), random.Random(0), Filler(), tc, 0, 64)
    for i in range(x.shape[0]):
        where = ans[i].nonzero().flatten()
        assert (where.diff() == 1).all() and len(where) == 6  # 5 digits and <|end|>, in a row
        assert w[i, where[0]] == 4.0 and (w[i, where[1:]] == 1.0).all()
        assert x[i, where[0] + 1] in b"0123456789"  # position t is weighted by the token it predicts
        others = torch.ones_like(ans[i])
        others[where] = False
        assert set(w[i][others].unique().tolist()) <= {0.0, 0.25}


def test_question_cut_sets_how_early_in_its_segment_a_question_may_start():
    import random

    from docqa.model.tokenizer import ByteTokenizer
    from docqa.train.loop import make_batch
    from docqa.train.tasks import Filler

    S, tok = 128, ByteTokenizer()

    def question_starts(cut: float) -> list[int]:
        """Tokens before each question in its own segment (None where it straddles)."""
        tc = TrainConfig(**{**TINY, "batch": 64, "question_cut": cut, "model_overrides": {"segment_len": S}})
        x, w, _, _, _ = make_batch(tok, random.Random(1), Filler(), tc, 0, S)
        starts = []
        for row, weights in zip(x, w):
            n = int(weights.nonzero().max()) + 2  # the document's length: its last target + 1
            q = int((row == tok.special_tokens["<|question|>"]).nonzero()[0])
            starts.append(q % S if q // S == (n - 1) // S else None)
        return starts

    default, wide = question_starts(0.5), question_starts(0.9)
    # a byte question and its answer take at most ~46 tokens: with half a segment kept, the
    # question always starts in the last segment, after at least 64 - 46 tokens of its segment
    assert None not in default and min(default) >= S // 2 - 46
    assert min(s for s in wide if s is not None) < S // 2 - 46  # a wider cut: questions start earlier


def test_bpe_run_with_a_task_mix_resumes_exactly_and_logs_exact_match_by_task(tmp_path, task_tokenizer):
    cfg = {**TINY, "tokenizer": str(task_tokenizer), "batch": 4, "lm_sample": 0.5,
           "task_mix": {"needle": 1, "facts": 1, "track": 1}}
    train(tmp_path / "a", TrainConfig(**cfg))
    train(tmp_path / "b", TrainConfig(**{**cfg, "steps": 3}))
    train(tmp_path / "b", TrainConfig(steps=6))
    a, b = (load_model(tmp_path / r / "checkpoint" / "model") for r in "ab")
    assert type(a.tokenizer).__name__ == "BPETokenizer" and a.config.vocab_size == a.tokenizer.vocab_size
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(v, b.model.state_dict()[k], rtol=1e-5, atol=1e-6, msg=k)
    log = [json.loads(l) for l in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    tasks = set().union(*(e["exact"] for e in log))
    assert tasks <= {"needle", "facts", "track"} and len(tasks) >= 2
    assert all(0 <= v <= 1 for e in log for v in e["exact"].values())


def test_a_new_phase_keeps_the_tokenizer_of_the_model_it_starts_from(tmp_path):
    import pytest

    from docqa.errors import ConfigError
    from docqa.model.tokenizer import BPETokenizer

    BPETokenizer.train(["The pass key is 12345. The grass is green. " * 20], vocab_size=300).save(tmp_path / "tok.json")
    train(tmp_path / "a", TrainConfig(**{**TINY, "steps": 2, "tokenizer": str(tmp_path / "tok.json")}))
    start = tmp_path / "a" / "checkpoint" / "model"
    train(tmp_path / "b", TrainConfig(**{**TINY, "steps": 2, "init_from": str(start)}))
    b = load_model(tmp_path / "b" / "checkpoint" / "model")
    assert type(b.tokenizer).__name__ == "BPETokenizer"
    assert (tmp_path / "b" / "checkpoint" / "model" / "tokenizer.json").read_text() == (start / "tokenizer.json").read_text()
    BPETokenizer.train(["other text entirely " * 20], vocab_size=280).save(tmp_path / "other.json")
    with pytest.raises(ConfigError, match="tokenizer"):
        train(tmp_path / "c", TrainConfig(**{**TINY, "init_from": str(start), "tokenizer": str(tmp_path / "other.json")}))
    pretty = tmp_path / "pretty.json"  # the start's own tokenizer, re-laid out by a json tool: the same one
    pretty.write_text(json.dumps(json.loads((start / "tokenizer.json").read_text()), indent=2))
    train(tmp_path / "d", TrainConfig(**{**TINY, "steps": 1, "init_from": str(start), "tokenizer": str(pretty)}))


def test_write_penalty_adds_the_mean_write_strength_to_the_loss(tmp_path):
    cfg = {**TINY, "steps": 1, "lr": 0.0, "gate_lr": 0.0, "model_overrides": {"segment_len": 64, "write_strength": True}}
    train(tmp_path / "plain", TrainConfig(**cfg))
    train(tmp_path / "pen", TrainConfig(**{**cfg, "write_penalty": 2.0}))
    plain, pen = (json.loads((tmp_path / r / "log.jsonl").read_text().splitlines()[0]) for r in ("plain", "pen"))
    assert 0.0 < plain["write"] < 1.0 and pen["write"] == plain["write"]
    assert abs(pen["loss"] - plain["loss"] - 2.0 * plain["write"]) < 2e-4


@pytest.mark.parametrize("parent, added", [({}, {"memory_center": True}),
                                           ({"memory_center": True}, {"memory_whiten": True})])
def test_a_phase_that_adds_memory_center_fits_the_centres_to_its_text(tmp_path, parent, added):
    """The centres (and covariances) start at the statistics of the memory's q and k on the run's
    own text, also when the parent had centres and the phase adds only the whitening."""
    import random

    from dataclasses import replace

    from docqa.model.center import fit_memory_center
    from docqa.model.transformer import InfiniTransformer
    from docqa.train.loop import CENTER_SEGMENTS
    from docqa.train.tasks import Filler

    train(tmp_path / "a", TrainConfig(**{**TINY, "steps": 2, "model_overrides": {**TINY["model_overrides"], **parent}}))
    parent = load_model(tmp_path / "a" / "checkpoint" / "model")
    cfg = {**TINY, "steps": 1, "lr": 0.0, "gate_lr": 0.0, "weight_decay": 0.0, "seed": 3,
           "init_from": str(tmp_path / "a" / "checkpoint" / "model"), "model_overrides": added}
    train(tmp_path / "b", TrainConfig(**cfg))
    grown = load_model(tmp_path / "b" / "checkpoint" / "model").model
    expected = InfiniTransformer(replace(parent.config, **added))
    expected.load_state_dict(parent.model.state_dict(), strict=False)
    text = Filler(parent.tokenizer).tokens(random.Random("3:center"), CENTER_SEGMENTS * 64)
    fit_memory_center(expected, torch.tensor([text]))
    for g, e in zip(grown.blocks, expected.blocks):  # the step's forwards then move them by a few CENTER_MOMENTUMs
        assert (g.attn.mem_center - e.attn.mem_center).norm() < 0.1 * e.attn.mem_center.norm()
        if "memory_whiten" in added:
            eye = torch.eye(grown.cfg.d_head)
            assert (e.attn.mem_cov - eye).norm() > 0.5 * eye.norm()  # fitted: far from the identity it starts at
            assert (g.attn.mem_cov - e.attn.mem_cov).norm() < 0.1 * e.attn.mem_cov.norm()


def test_a_branch_without_changes_replays_its_parent_exactly(tmp_path):
    """The branch carries the Adam moments, the history bank and the step: with nothing changed it
    is the uninterrupted run (a new run from the same model would start with none of them)."""
    from docqa.train.loop import branch_run

    straight = train(tmp_path / "a", TrainConfig(**TINY))
    train(tmp_path / "p", TrainConfig(**{**TINY, "steps": 3}))
    parent_files = {f: f.read_bytes() for f in (tmp_path / "p").rglob("*") if f.is_file()}
    state = branch_run(tmp_path / "p", tmp_path / "b", {})
    assert state["step"] == 3 and state["branched_from"] == {"run": str(tmp_path / "p"), "step": 3, "changed": {}}
    resumed = train(tmp_path / "b", TrainConfig(steps=6))
    assert straight["step"] == resumed["step"] == 6
    assert_same_weights(tmp_path / "a", tmp_path / "b")
    assert {f: f.read_bytes() for f in (tmp_path / "p").rglob("*") if f.is_file()} == parent_files


def test_a_branch_trains_with_its_changed_settings_and_refuses_what_it_cannot_change(tmp_path):
    from docqa.train.loop import branch_run

    train(tmp_path / "p", TrainConfig(**{**TINY, "steps": 3}))
    state = branch_run(tmp_path / "p", tmp_path / "b", {"lr": 0.0, "gate_lr": 0.0, "conv_lr": 0.0})
    assert state["branched_from"]["changed"] == {"lr": 0.0, "gate_lr": 0.0, "conv_lr": 0.0}
    before = load_model(tmp_path / "b" / "checkpoint" / "model").model.state_dict()
    train(tmp_path / "b", TrainConfig(steps=5))
    after = load_model(tmp_path / "b" / "checkpoint" / "model").model.state_dict()
    saved = json.loads((tmp_path / "b" / "checkpoint" / "state.json").read_text())
    assert saved["step"] == 5 and saved["train_config"]["lr"] == 0.0 and "branched_from" in saved
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert moved == [], "every learning rate is 0 in the branch: nothing may move"
    with pytest.raises(ConfigError, match="keeps its parent's batch, model_overrides"):
        branch_run(tmp_path / "p", tmp_path / "c", {"batch": 4, "model_overrides": {}})
    with pytest.raises(ConfigError, match="not empty"):
        branch_run(tmp_path / "p", tmp_path / "b", {})
    with pytest.raises(ConfigError, match="no checkpoint"):
        branch_run(tmp_path / "c", tmp_path / "d", {})
    with pytest.raises(ConfigError, match="unknown train config keys"):
        branch_run(tmp_path / "p", tmp_path / "e", {"leraning_rate": 1})
    assert not (tmp_path / "e").exists() or not any((tmp_path / "e").iterdir())


def _distill_cfg(task_tokenizer, start, **kw):
    return {**TINY, "steps": 1, "lr": 0.0, "gate_lr": 0.0, "batch": 4, "init_from": str(start),
            "task_mix": {"facts": 1, "needle": 1}, "lm_sample": 0.5, **kw}


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, task_tokenizer):
    """A start model and a teacher that differs from it (the start trained two steps more)."""
    root = tmp_path_factory.mktemp("distill")
    cfg = {**TINY, "tokenizer": str(task_tokenizer), "steps": 2, "task_mix": {"facts": 1, "needle": 1}}
    train(root / "start", TrainConfig(**cfg))
    train(root / "teacher", TrainConfig(**{**cfg, "init_from": str(root / "start" / "checkpoint" / "model"), "lr": 3e-2}))
    return root / "start" / "checkpoint" / "model", root / "teacher" / "checkpoint" / "model"


def _first_log(run):
    return json.loads((run / "log.jsonl").read_text().splitlines()[0])


@pytest.mark.parametrize("stream", [{}, {"gap_segments": 2, "gap_fraction": 1.0, "lead_segments": 2, "lead_fraction": 1.0}])
def test_distillation_from_the_starting_model_adds_nothing(tmp_path, task_tokenizer, two_models, stream):
    start, _ = two_models
    train(tmp_path / "plain", TrainConfig(**_distill_cfg(task_tokenizer, start, **stream)))
    train(tmp_path / "self", TrainConfig(**_distill_cfg(task_tokenizer, start, distill_from=str(start),
                                                       distill_weight=1.0, **stream)))
    plain, self_ = _first_log(tmp_path / "plain"), _first_log(tmp_path / "self")
    assert "distill" not in plain and abs(self_["distill"]) < 1e-5  # the teacher computes what the student does
    assert abs(self_["loss"] - plain["loss"]) < 1e-4
    assert all(k in self_ for k in ("gap", "lead")) == bool(stream)  # the step did stream them


def test_distillation_adds_its_weighted_divergence_from_the_teacher_on_its_tasks(tmp_path, task_tokenizer, two_models):
    start, teacher = two_models
    train(tmp_path / "plain", TrainConfig(**_distill_cfg(task_tokenizer, start)))
    runs = {}
    for name, tasks in (("facts", ["facts"]), ("both", ["facts", "needle"])):
        train(tmp_path / name, TrainConfig(**_distill_cfg(task_tokenizer, start, distill_from=str(teacher),
                                                          distill_weight=0.5, distill_tasks=tasks)))
        runs[name] = _first_log(tmp_path / name)
    plain = _first_log(tmp_path / "plain")
    for entry in runs.values():
        assert entry["distill"] > 1e-4
        assert abs(entry["loss"] - plain["loss"] - 0.5 * entry["distill"]) < 1e-3
    assert runs["facts"]["distill"] != runs["both"]["distill"]  # taken on the rows of the named tasks only


def test_distillation_is_refused_without_a_teacher_or_with_another_tokenizer(tmp_path, task_tokenizer, two_models):
    from docqa.model.tokenizer import BPETokenizer

    start, _ = two_models
    with pytest.raises(ConfigError, match="distill_from"):
        train(tmp_path / "a", TrainConfig(**_distill_cfg(task_tokenizer, start, distill_weight=1.0)))
    BPETokenizer.train(["other text entirely " * 20], vocab_size=280).save(tmp_path / "other.json")
    train(tmp_path / "other", TrainConfig(**{**TINY, "steps": 1, "tokenizer": str(tmp_path / "other.json")}))
    with pytest.raises(ConfigError, match="tokenizer"):
        train(tmp_path / "b", TrainConfig(**_distill_cfg(task_tokenizer, start, distill_weight=1.0,
                                                         distill_from=str(tmp_path / "other" / "checkpoint" / "model"))))


def test_the_log_gives_each_task_its_own_answer_loss(tmp_path, task_tokenizer):
    # exact match stays 0 for a task until whole answers come right: its own loss shows it move before
    cfg = {**TINY, "tokenizer": str(task_tokenizer), "batch": 4, "steps": 3, "lm_sample": 0.5}
    train(tmp_path / "one", TrainConfig(**cfg, task_mix={"needle": 1}))
    for e in (json.loads(l) for l in (tmp_path / "one" / "log.jsonl").read_text().splitlines()):
        assert e["answer_loss_by_task"] == {"needle": pytest.approx(e["answer_loss"], abs=2e-4)}
    train(tmp_path / "mix", TrainConfig(**cfg, task_mix={"needle": 1, "facts": 1, "track": 1}))
    log = [json.loads(l) for l in (tmp_path / "mix" / "log.jsonl").read_text().splitlines()]
    assert any(len(e["answer_loss_by_task"]) >= 2 for e in log)
    for e in log:  # the pooled loss lies between its tasks' pooled losses
        assert e["answer_loss_by_task"].keys() <= e["exact"].keys()
        by_task = e["answer_loss_by_task"].values()
        assert min(by_task) - 2e-4 <= e["answer_loss"] <= max(by_task) + 2e-4


def test_track_people_reaches_every_tracking_story_of_a_batch_and_is_checked(tmp_path, task_tokenizer):
    import random

    from docqa.model.tokenizer import load_tokenizer
    from docqa.train import phrasings as ph
    from docqa.train.loop import make_batch
    from docqa.train.tasks import Filler

    tok = load_tokenizer(task_tokenizer)
    tc = TrainConfig(**{**TINY, "batch": 6, "min_segments": 8, "max_segments": 8, "start_max_segments": 8,
                        "task_mix": {"track": 1}, "track_people": [3, 3]})
    for step in range(3):
        *_, docs = make_batch(tok, random.Random(step), Filler(tok), tc, step, 64)
        for d in docs:
            assert len({p for p in ph.PEOPLE if f" {p} " in tok.decode(d.tokens)}) == 3
    for bad in ([0, 2], [3, 2], [3]):
        with pytest.raises(ConfigError, match="track_people"):
            train(tmp_path / str(bad), TrainConfig(**{**TINY, "tokenizer": str(task_tokenizer), "task_mix": {"track": 1},
                                                      "track_people": bad}))


def test_composed_track_reaches_every_tracking_question_of_a_batch_and_is_a_share(tmp_path, task_tokenizer):
    import random

    from docqa.model.tokenizer import load_tokenizer
    from docqa.train import phrasings as ph
    from docqa.train.loop import make_batch
    from docqa.train.tasks import Filler

    tok = load_tokenizer(task_tokenizer)
    fixed = {f"<|question|>{w.format(p=p)}<|answer|>" for w in ph.WHERE for p in ph.PEOPLE}
    asked = {}
    for share in (0.0, 1.0):
        tc = TrainConfig(**{**TINY, "batch": 6, "min_segments": 8, "max_segments": 8, "start_max_segments": 8,
                            "task_mix": {"track": 1}, "composed_track": share})
        docs = [d for step in range(3) for d in make_batch(tok, random.Random(step), Filler(tok), tc, step, 64)[-1]]
        asked[share] = sum(tok.decode(d.tokens[d.question_start:d.answer_start]) in fixed for d in docs) / len(docs)
    assert asked[0.0] == 1.0 and asked[1.0] < 0.2
    with pytest.raises(ConfigError, match="composed_track=1.5"):
        train(tmp_path / "bad", TrainConfig(**{**TINY, "tokenizer": str(task_tokenizer), "task_mix": {"track": 1},
                                               "composed_track": 1.5}))


def test_wide_moves_and_open_people_reach_every_tracking_story_of_a_batch_and_are_shares(tmp_path, task_tokenizer):
    import random

    from docqa.model.tokenizer import load_tokenizer
    from docqa.train import phrasings as ph
    from docqa.train.loop import make_batch
    from docqa.train.tasks import Filler

    tok = load_tokenizer(task_tokenizer)
    tc = TrainConfig(**{**TINY, "batch": 6, "min_segments": 8, "max_segments": 8, "start_max_segments": 8,
                        "task_mix": {"track": 1}, "composed_track": 1.0, "wide_moves": 1.0, "open_people": 1.0})
    docs = [d for step in range(2) for d in make_batch(tok, random.Random(step), Filler(tok), tc, step, 64)[-1]]
    texts = [tok.decode(d.tokens[:d.question_start]) for d in docs]
    assert not any(re.search(rf"\b({'|'.join(ph.PEOPLE)})\b", t) for t in texts)  # made-up people only
    verbs = [v.split()[0] for v in ph.WIDE_MOVE_VERBS]
    assert all(re.search(rf"\b({'|'.join(verbs)})\b", t) for t in texts)
    for field in ("wide_moves", "open_people", "code_rename"):
        with pytest.raises(ConfigError, match=f"{field}=-0.5"):
            train(tmp_path / field, TrainConfig(**{**TINY, "tokenizer": str(task_tokenizer), "task_mix": {"track": 1},
                                                   field: -0.5}))


def test_frozen_parameters_stay_as_they_start_and_the_rest_train(tmp_path):
    train(tmp_path / "start", TrainConfig(**{**TINY, "steps": 1}))
    start = tmp_path / "start" / "checkpoint" / "model"
    frozen = r"^emb|^blocks\.0\."
    train(tmp_path / "r", TrainConfig(**{**TINY, "steps": 3, "init_from": str(start), "freeze": frozen}))
    train(tmp_path / "r", TrainConfig(steps=5))  # resumed: still frozen, and the optimizer's groups load
    a = load_model(start).model.state_dict()
    b = load_model(tmp_path / "r" / "checkpoint" / "model").model.state_dict()
    for k in a:
        if re.search(frozen, k):
            assert torch.equal(a[k], b[k]), k  # not even weight decay touches them
    assert all(not torch.equal(a[k], b[k]) for k in ("blocks.1.attn.qkv.weight", "blocks.1.mlp.fc1.weight", "norm_f.weight"))


@pytest.mark.parametrize("pattern, says", [("^lm_head", "matches no parameter"), ("blocks.(", "not a regular expression")])
def test_a_freeze_that_names_nothing_or_is_not_a_pattern_is_refused(tmp_path, pattern, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        train(tmp_path / "r", TrainConfig(**{**TINY, "steps": 1, "freeze": pattern}))
    assert not (tmp_path / "r" / "checkpoint").exists()


def test_straight_through_layers_sets_the_gradient_rule_of_the_named_layers_only():
    model = InfiniTransformer(ModelConfig.from_name("test", n_layer=3, write_threshold=0.5))
    set_straight_through(model, TrainConfig(gate_straight_through=True, straight_through_layers=[0, 2]))
    assert [b.attn.gate_straight_through for b in model.blocks] == [True, False, True]
    set_straight_through(model, TrainConfig(gate_straight_through=True))
    assert [b.attn.gate_straight_through for b in model.blocks] == [True, True, True]
    set_straight_through(model, TrainConfig())
    assert [b.attn.gate_straight_through for b in model.blocks] == [False, False, False]


def test_straight_through_layers_without_straight_through_is_refused_before_the_model_loads(tmp_path):
    with pytest.raises(ConfigError, match="set gate_straight_through"):
        train(tmp_path / "r", TrainConfig(**TINY, straight_through_layers=[1]))
    assert not (tmp_path / "r" / "checkpoint").exists()


def test_straight_through_layers_past_the_model_are_refused():
    model = InfiniTransformer(ModelConfig.from_name("test", n_layer=3, write_threshold=0.5))
    with pytest.raises(ConfigError, match=r"\[3\].*3 attention layers \(0\.\.2\)"):
        set_straight_through(model, TrainConfig(gate_straight_through=True, straight_through_layers=[3]))
