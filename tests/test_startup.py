"""Commands that run no model start without importing torch (issue 12, item 10).

Each check runs in a fresh interpreter: this test process has imported torch long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from docqa.memory import Memory
from docqa.store import NewSource, Store

PROBE = """
import json, sys
from click.testing import CliRunner
from docqa.cli.main import cli
result = CliRunner().invoke(cli, json.loads(sys.argv[1]), catch_exceptions=False)
print(json.dumps({"exit_code": result.exit_code, "output": result.output,
                  "torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))[:5]}))
"""


def run_fresh(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "docqa.db"
    with Store(path) as s:
        s.create_corpus("notes", "f" * 64, "tiny")
        s.save_snapshot("notes", Memory.zeros(2, 2, 4, 4), position=1, kind="final",
                        sources=[NewSource(0, "/r/a.md", size=10, tokens=3)])
    return str(path)


@pytest.mark.parametrize("args", [
    ["--help"], ["ingest", "--help"], ["ask", "--help"], ["train", "--help"], ["bench", "recall", "--help"],
    ["corpora"], ["corpora", "--json"], ["show", "notes"], ["show", "notes", "--sources", "--json"],
    ["rm", "notes", "--yes"],
], ids=" ".join)
def test_store_commands_and_help_do_not_import_torch(db, args):
    if args[0] != "--help" and "--help" not in args:
        args = [*args, "--db", db]
    r = run_fresh(args)
    assert r["exit_code"] == 0, r["output"]
    assert r["torch"] == [], f"docqa {' '.join(args)} imported {r['torch']}"


def test_the_probe_sees_torch_when_a_command_loads_it(db):
    # The same probe on a command that streams through the model must see torch: the check above
    # is not vacuous.
    r = run_fresh(["ask", "notes", "What is the pass key?", "--db", db + ".missing"])
    assert r["torch"] != []


def test_public_api_names_stay_importable_without_loading_torch_first():
    code = ("import sys, docqa; assert 'torch' not in sys.modules, 'import docqa loaded torch'; "
            "from docqa import *; "
            "assert callable(load_model) and Corpus.__name__ == 'Corpus' and DEFAULT_MAX_TOKENS > 0; "
            "assert sorted(docqa.__all__) == ['Answer', 'AnswerStream', 'Attribution', 'Corpus', 'DEFAULT_MAX_TOKENS', "
            "'IngestOptions', 'IngestReport', 'Source', 'load_model', 'load_template', 'validate_corpus_name']; "
            "assert set(docqa.__all__) <= set(dir(docqa))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
