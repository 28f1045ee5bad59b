"""A resumed `docqa train` runs where it is told: --device and --threads given on the command
line replace the saved ones, and the saved ones hold when none is given (issue 12, item 8)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import docqa.train.loop as loop
from docqa.cli.main import cli
from docqa.train.loop import TrainConfig, train

TINY = dict(preset="test", model_overrides={"segment_len": 64}, batch=2, warmup=1, save_every=1,
            min_segments=3, max_segments=3, start_max_segments=3, curriculum_steps=2, eval_every=1000)
SETS = [a for k, v in TINY.items() for a in ("--set", f"{k}={json.dumps(v)}")]


@pytest.fixture(autouse=True)
def _one_thread_after():
    yield
    torch.set_num_threads(1)  # the suite's setting (tests/conftest.py)


def saved(run) -> dict:
    return json.loads((run / "checkpoint" / "state.json").read_text())


class Stop(Exception):
    pass


@pytest.fixture
def load_calls(monkeypatch):
    """Records the device a resume loads its checkpoint on, and stops the run there."""
    calls = []

    def fake_load(path, device="cpu"):
        calls.append(device)
        raise Stop

    monkeypatch.setattr(loop, "load_model", fake_load)
    return calls


def test_a_resumed_run_keeps_its_saved_threads_unless_given_new_ones(tmp_path):
    run = tmp_path / "r"
    train(run, TrainConfig(**TINY, steps=1, threads=2))
    torch.set_num_threads(1)
    train(run, TrainConfig(steps=2))
    assert torch.get_num_threads() == 2
    assert saved(run)["train_config"]["threads"] == 2
    train(run, TrainConfig(steps=3), threads=3)
    assert torch.get_num_threads() == 3
    assert saved(run)["step"] == 3 and saved(run)["train_config"]["threads"] == 3


def test_cli_resume_honours_threads_from_option_env_or_checkpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCQA_THREADS", raising=False)
    run = str(tmp_path / "r")
    r = CliRunner().invoke(cli, ["train", run, "--steps", "1", "--threads", "2", *SETS], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert saved(tmp_path / "r")["train_config"]["threads"] == 2
    torch.set_num_threads(1)
    r = CliRunner().invoke(cli, ["train", run, "--steps", "2"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert torch.get_num_threads() == 2 and saved(tmp_path / "r")["train_config"]["threads"] == 2
    r = CliRunner().invoke(cli, ["train", run, "--steps", "3"], env={"DOCQA_THREADS": "3"}, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert torch.get_num_threads() == 3 and saved(tmp_path / "r")["train_config"]["threads"] == 3


def test_cli_resume_uses_the_device_given_else_the_saved_one(tmp_path, load_calls):
    run = tmp_path / "r"
    train(run, TrainConfig(**TINY, steps=1))
    with pytest.raises(Stop):
        CliRunner().invoke(cli, ["train", str(run), "--steps", "2", "--device", "cuda"], catch_exceptions=False)
    state = saved(run)
    state["train_config"]["device"] = "cuda"  # as a run started on a GPU machine saves it
    (run / "checkpoint" / "state.json").write_text(json.dumps(state))
    with pytest.raises(Stop):
        CliRunner().invoke(cli, ["train", str(run), "--steps", "2"], catch_exceptions=False)
    with pytest.raises(Stop):
        CliRunner().invoke(cli, ["train", str(run), "--steps", "2", "--device", "cpu"], catch_exceptions=False)
    assert load_calls == ["cuda", "cuda", "cpu"]


def test_a_new_run_takes_set_device_unless_device_is_given(tmp_path, monkeypatch):
    devices = []

    class Model:  # stands in for the model: records where the run puts it, then stops the run
        def __init__(self, cfg):
            pass

        def to(self, device):
            devices.append(device)
            raise Stop

    monkeypatch.setattr(loop, "InfiniTransformer", Model)
    for i, extra in enumerate([[], ["--device", "cpu"]]):
        with pytest.raises(Stop):
            CliRunner().invoke(cli, ["train", str(tmp_path / str(i)), "--set", "preset=test", "--set", "device=cuda",
                                     *extra], catch_exceptions=False)
    assert devices == ["cuda", "cpu"]


def test_cli_branch_from_applies_its_sets_to_a_copy_and_leaves_the_parent(tmp_path):
    parent, branch = tmp_path / "p", tmp_path / "b"
    r = CliRunner().invoke(cli, ["train", str(parent), "--steps", "1", *SETS], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    before = (parent / "checkpoint" / "state.json").read_text()
    r = CliRunner().invoke(cli, ["train", str(branch), "--branch-from", str(parent), "--steps", "2",
                                 "--set", "lr=0.0005", "--set", "seed=7"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "branched" in r.output and "lr, seed, steps" in r.output
    state = saved(branch)
    assert state["step"] == 2 and state["train_config"]["lr"] == 0.0005 and state["train_config"]["seed"] == 7
    assert state["branched_from"]["step"] == 1
    assert (parent / "checkpoint" / "state.json").read_text() == before
    r = CliRunner().invoke(cli, ["train", str(tmp_path / "c"), "--branch-from", str(parent), "--init-from",
                                 str(parent / "checkpoint" / "model")])
    assert r.exit_code != 0 and "leave out --init-from" in r.output
