"""The README and docs/cli.md say what the code does: install lines, the command list, the
generated reference, and the Python example's printed output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from docqa.cli.reference import command_paths, reference
from docqa.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_install_lines_name_this_distribution_and_its_extras():
    # `docqa` on PyPI is an unrelated project from 2022: an install line naming it installs that.
    assert PROJECT["name"] != "docqa"
    texts = [README] + [p.read_text() for p in (ROOT / "examples").glob("*.py")]
    specs = [m for t in texts for m in re.findall(r"pip install[^\n]*?'([^'\s]*\[[^\]]+\])'", t)]
    assert specs, "no install line with extras found: the pattern no longer matches the README"
    extras = set(PROJECT["optional-dependencies"])
    for spec in specs:
        name, wanted = spec.split("[")
        assert name in (".", PROJECT["name"]), f"{spec!r} installs {name!r}, not this project"
        assert set(wanted.rstrip("]").split(",")) <= extras, f"{spec!r} names an extra pyproject lacks"


def test_readme_command_list_names_every_command():
    block = next(b for b in _blocks(README, "bash") if "docqa ingest PATH" in b)
    listed = " ".join(line.split("#")[0] for line in block.splitlines())
    missing = [" ".join(p) for p in command_paths(cli) if p and not re.search(
        r"(^|[\s|])" + re.escape(" ".join(p)) + r"(\s|$)", listed)]
    assert not missing, f"README's command list lacks: {missing}"


def test_cli_reference_is_current():
    current = (ROOT / "docs" / "cli.md").read_text()
    assert current == reference(), "docs/cli.md is stale: python -m docqa.cli.reference > docs/cli.md"


def test_python_example_prints_what_the_readme_says(tmp_path):
    section = README.split("## Python", 1)[1]
    code = _blocks(section, "python")[0]
    printed = re.search(r"prints, with the shipped default model[^\n]*\n\n```\n(.*?)```", section, re.S).group(1)
    env = {**os.environ, "DOCQA_DB": str(tmp_path / "store.db")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout == printed
