"""Commands that run no model start without importing torch (issue 12, item 10).

Each check runs in a fresh interpreter: this test process has imported torch long ago.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

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


# The collector during a model command's imports (docqa.cli.startup, issue 14 item 4): paused and
# the imports frozen only when `cli()` runs as the program; never for `import docqa` or CliRunner.

GC_STATE = "import gc; state = [gc.isenabled(), list(gc.get_threshold()), gc.get_freeze_count()]"
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo"
QUESTION = "What is the pass key?"

AS_PROGRAM = GC_STATE.replace("state = ", "before = ") + """
import json, os, sys
from docqa.cli.main import cli
try:
    cli(json.loads(sys.argv[1]))  # as the console script starts it
except SystemExit as e:
    code = e.code
""" + GC_STATE + """
os.write(2, ("\\n" + json.dumps({"code": code, "before": before, "after": state})).encode())
"""

IN_PROCESS = GC_STATE.replace("state = ", "before = ") + """
import json, sys
from click.testing import CliRunner
from docqa.cli.main import cli
result = CliRunner().invoke(cli, json.loads(sys.argv[1]), catch_exceptions=False)
""" + GC_STATE + """
print(json.dumps({"code": result.exit_code, "output": result.output, "before": before, "after": state,
                  "torch": "torch" in sys.modules}))
"""


def interpreter_gc_state() -> list:
    code = GC_STATE + "; import json; print(json.dumps(state))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    return json.loads(out)


def run_as_program(args: list[str]) -> tuple[str, dict]:
    proc = subprocess.run([sys.executable, "-c", AS_PROGRAM, json.dumps(args)], capture_output=True, text=True,
                          timeout=300)
    state = json.loads(proc.stderr.splitlines()[-1])
    assert state["code"] in (0, None), proc.stderr
    return proc.stdout, state


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "docqa.db"
    _, state = run_as_program(["ingest", str(DEMO), "--corpus", "demo", "--db", str(db)])
    default = interpreter_gc_state()
    assert state["after"][:2] == default[:2] and state["after"][2] > 0, state  # ingest: frozen, collector on
    return str(db)


def test_import_docqa_leaves_the_collectors_settings_alone():
    # The library, the CLI's modules and a lazily loaded public name (which imports torch) included.
    code = ("import docqa, docqa.cli.main, docqa.cli.commands; docqa.load_model; import sys; "
            "assert 'torch' in sys.modules; " + GC_STATE + "; import json; print(json.dumps(state))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == interpreter_gc_state()


def test_ask_as_a_program_freezes_its_imports_and_leaves_the_collector_on(demo_db):
    stdout, state = run_as_program(["ask", "demo", QUESTION, "--db", demo_db])
    assert state["before"] == interpreter_gc_state()
    assert state["after"][:2] == state["before"][:2], state  # enabled, thresholds untouched
    assert state["after"][2] > 50_000, state  # torch's import frozen: the start-up cut happened
    # ... and the command's output is what the same command prints in-process, where nothing is tuned
    proc = subprocess.run([sys.executable, "-c", IN_PROCESS, json.dumps(["ask", "demo", QUESTION, "--db", demo_db])],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    in_process = json.loads(proc.stdout)
    assert in_process["code"] == 0 and in_process["torch"], in_process
    assert stdout == in_process["output"] and stdout.strip()


def test_cli_in_process_leaves_the_collector_alone(demo_db):
    proc = subprocess.run([sys.executable, "-c", IN_PROCESS, json.dumps(["ask", "demo", QUESTION, "--db", demo_db,
                                                                         "--json"])],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["code"] == 0 and r["torch"], r
    assert r["after"] == r["before"] == interpreter_gc_state()  # nothing frozen, collector as it was


def test_model_imports_pauses_only_for_the_program_and_always_turns_the_collector_back_on():
    from docqa.cli.startup import model_imports, running_as_program

    frozen = gc.get_freeze_count()
    with model_imports():
        assert gc.isenabled()  # not the program (this test process): nothing changes
    with running_as_program(), pytest.raises(ModuleNotFoundError):
        with model_imports():
            assert not gc.isenabled()
            import docqa_no_such_module  # noqa: F401
    assert gc.isenabled() and gc.get_freeze_count() == frozen  # a failed import freezes nothing
    gc.disable()  # a program whose collector is already off keeps it off
    try:
        with running_as_program(), model_imports():
            pass
        assert not gc.isenabled() and gc.get_freeze_count() == frozen
    finally:
        gc.enable()
