"""Every `docqa` command has working `--help`, and every script in examples/ runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner

from docqa.cli.main import cli
from docqa.cli.reference import command_paths
from docqa.model.config import ModelConfig
from docqa.model.io import save_model
from docqa.model.tokenizer import ByteTokenizer
from docqa.model.transformer import InfiniTransformer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# What each example prints on stdout when it works (an example not listed must exit 0 and print).
MARKERS = {
    "ingest_and_ask.py": ["files:     4 ingested, 0 skipped", "question:  What is the pass key?",
                          "answer:", "first token", "tokens/s"],
}
NEEDS = {"langchain_chain.py": "langchain_core"}  # optional dependencies


@pytest.mark.parametrize("path", command_paths(cli), ids=lambda p: " ".join(("docqa",) + p))
def test_help_exits_zero(path):
    result = CliRunner().invoke(cli, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {' '.join(('cli',) + path)}")


def test_every_command_is_walked():
    names = {p[-1] for p in command_paths(cli) if p}
    assert {"ingest", "ask", "chat"} <= names


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test", segment_len=16))
    with torch.no_grad():  # untrained: keep answers from ending at once on a special token
        model.emb.weight[256:] = 0
    path = tmp_path_factory.mktemp("model")
    save_model(model, ByteTokenizer(), path)
    return str(path)


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_example_runs(script, tiny_model, tmp_path):
    if script.name in NEEDS:
        pytest.importorskip(NEEDS[script.name])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # HOME and DOCQA_DB are already temporary (conftest)
    done = subprocess.run([sys.executable, str(script), "--model", tiny_model, "--max-tokens", "8"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for marker in MARKERS.get(script.name, []):
        assert marker in done.stdout, done.stdout
    assert done.stdout
    assert not Path(os.environ["DOCQA_DB"]).exists()  # examples never touch the user's store


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for name in path:
        cmd = cmd.commands[name]
    return cmd


@pytest.mark.parametrize("path", [p for p in command_paths(cli) if p], ids=lambda p: " ".join(("docqa",) + p))
def test_every_option_says_what_it_does(path):
    bare = [p.opts[0] for p in _command(path).params if isinstance(p, click.Option) and not p.help]
    assert not bare, f"docqa {' '.join(path)}: options without help text: {bare}"
