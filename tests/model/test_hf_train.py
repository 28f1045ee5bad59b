"""Continual training of a converted checkpoint (`docqa train --init-from DIR`): the memory
branches learn, the checkpoint stays frozen, runs resume exactly."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")

from docqa.cli.main import cli  # noqa: E402
from docqa.errors import ConfigError  # noqa: E402
from docqa.model.io import load_model  # noqa: E402
from docqa.train.loop import TrainConfig, train  # noqa: E402

TINY = dict(batch=2, steps=4, warmup=1, save_every=2, min_segments=3, max_segments=3, start_max_segments=3,
            curriculum_steps=2, history_reset=0.3, eval_every=0, gate_lr=0.05, lr=1e-2)


def config(model_dir, **kw) -> TrainConfig:
    return TrainConfig(**{**TINY, "init_from": str(model_dir), **kw})


def test_memory_trains_the_checkpoint_stays_and_a_resumed_run_equals_a_straight_one(converted, tmp_path):
    src = load_model(converted("llama", 64))
    straight = train(tmp_path / "a", config(src.path))
    train(tmp_path / "b", config(src.path), stop_at=2)
    resumed = train(tmp_path / "b", TrainConfig(steps=4))
    assert straight["step"] == resumed["step"] == 4
    a, b = (load_model(tmp_path / r / "checkpoint" / "model") for r in "ab")
    assert a.fingerprint != src.fingerprint and a.config.architecture == "LlamaForCausalLM"
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(v, b.model.state_dict()[k], rtol=1e-5, atol=1e-6, msg=k)
    base = src.model.lm.state_dict()
    for k, v in a.model.lm.state_dict().items():
        assert torch.equal(v, base[k]), f"{k} of the frozen checkpoint changed"
    moved = [k for k, v in a.model.branches.state_dict().items()
             if not torch.equal(v, src.model.branches.state_dict()[k])]
    assert sorted(moved) == sorted(src.model.branches.state_dict())  # every gate and write strength learned
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3, 4] and all(e["loss"] > 0 for e in log)


def test_train_attention_also_trains_the_projections_only(converted, tmp_path):
    src = load_model(converted("qwen2", 64))
    train(tmp_path / "r", config(src.path, steps=1, save_every=1, train_attention=True))
    after = load_model(tmp_path / "r" / "checkpoint" / "model").model.lm.state_dict()
    changed = {k for k, v in src.model.lm.state_dict().items() if not torch.equal(v, after[k])}
    assert changed and all(".self_attn." in k for k in changed)
    assert any(k.endswith("q_proj.weight") for k in changed)


def test_converted_models_keep_their_architecture_and_docqa_models_refuse_train_attention(converted, tmp_path):
    with pytest.raises(ConfigError, match="is a converted model"):
        train(tmp_path / "r", config(converted("llama", 64), model_overrides={"short_conv": 3}))
    with pytest.raises(ConfigError, match="train_attention applies to converted models"):
        train(tmp_path / "s", TrainConfig(**{**TINY, "preset": "test", "train_attention": True}))


def test_cli_init_from(converted, tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(cli, ["train", str(run), "--init-from", str(converted("llama", 64)), "--steps", "1",
                                 "--set", "batch=1", "--set", "eval_every=0", "--set", "min_segments=3",
                                 "--set", "max_segments=3"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert (run / "checkpoint" / "model" / "docqa.json").is_file()
    again = CliRunner().invoke(cli, ["train", str(run), "--init-from", str(converted("llama", 64))])
    assert again.exit_code == 1 and "--set and --init-from apply to new runs only" in again.output
