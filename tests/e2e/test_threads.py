"""`--threads` and $DOCQA_THREADS set torch's thread count for every command that runs a model
(issue 12, item 9); bad values are usage errors."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from docqa.cli.main import cli
from docqa.errors import ConfigError
from docqa.threads import MAX_DEFAULT_THREADS, default_threads, set_threads

DEMO = "examples/demo"


@pytest.fixture(autouse=True)
def _one_thread_after():
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(1)  # the suite's setting (tests/conftest.py)


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_default_is_half_the_cpus_capped(monkeypatch):
    for cpus, expected in [(1, 1), (2, 1), (3, 1), (4, 2), (6, 3), (8, 4), (64, MAX_DEFAULT_THREADS)]:
        monkeypatch.setattr("docqa.threads.available_cpus", lambda cpus=cpus: cpus)
        assert default_threads() == expected, cpus
        assert set_threads() == expected and torch.get_num_threads() == expected


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_threads_refuses_what_is_not_a_count(bad):
    with pytest.raises(ConfigError, match=r"threads must be a whole number of at least 1, not"):
        set_threads(bad)
    assert torch.get_num_threads() == 1


def test_ingest_threads_option_sets_torch_threads(model_dir, tmp_path):
    r = run("ingest", DEMO, "--corpus", "demo", "--model", model_dir, "--db", str(tmp_path / "t.db"),
            "--threads", "3")
    assert r.exit_code == 0, r.output
    assert torch.get_num_threads() == 3


def test_env_var_sets_threads_and_the_option_wins(model_dir, tmp_path):
    db = str(tmp_path / "t.db")
    assert run("ingest", DEMO, "--corpus", "demo", "--model", model_dir, "--db", db,
               env={"DOCQA_THREADS": "2"}).exit_code == 0
    assert torch.get_num_threads() == 2
    r = run("ask", "demo", "What is the pass key?", "--model", model_dir, "--db", db, "--max-tokens", "2",
            "--threads", "3", env={"DOCQA_THREADS": "2"})
    assert r.exit_code == 0, r.output
    assert torch.get_num_threads() == 3
    r = run("chat", "demo", "-m", "hello", "--model", model_dir, "--db", db, "--max-tokens", "2",
            env={"DOCQA_THREADS": "2"})
    assert r.exit_code == 0, r.output
    assert torch.get_num_threads() == 2


def test_without_option_or_env_var_the_default_applies(model_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("DOCQA_THREADS", raising=False)
    monkeypatch.setattr("docqa.threads.available_cpus", lambda: 6)
    torch.set_num_threads(5)
    r = run("ingest", DEMO, "--corpus", "demo", "--model", model_dir, "--db", str(tmp_path / "t.db"))
    assert r.exit_code == 0, r.output
    assert torch.get_num_threads() == 3


COMMANDS = {
    "ingest": ["ingest", DEMO],
    "ask": ["ask", "demo", "question"],
    "chat": ["chat", "demo", "-m", "hello"],
    "bench recall": ["bench", "recall"],
    "bench code": ["bench", "code", "docqa"],
    "train": ["train", "run"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("option, env", [(["--threads", "0"], None), (["--threads", "two"], None),
                                         ([], {"DOCQA_THREADS": "0"}), ([], {"DOCQA_THREADS": "many"})],
                         ids=["zero", "word", "env-zero", "env-word"])
def test_bad_thread_counts_are_usage_errors(command, option, env, tmp_path):
    db = ["--db", str(tmp_path / "t.db")] if command in ("ingest", "ask", "chat") else []
    r = run(*COMMANDS[command], *option, *db, env=env)
    assert r.exit_code == 2, r.output
    assert "Invalid value for '--threads'" in r.output
    assert torch.get_num_threads() == 1
