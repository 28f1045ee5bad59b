"""`docqa corpora`, `docqa show`, `docqa rm`, through click's CliRunner."""

import json

import pytest
from click.testing import CliRunner

from docqa.cli.main import cli
from docqa.store import NewSource, Store

from store_fixtures import FP_A, random_memory


@pytest.fixture
def filled(db_path):
    with Store(db_path) as s:
        s.create_corpus("notes", FP_A, "tiny-a")
        first = s.save_snapshot("notes", random_memory(1), position=2, sources=[
            NewSource(0, "/r/a.md", size=2048, tokens=30), NewSource(1, "/r/logo.png", status="skipped",
                                                                    reason="binary file (.png)")])
        s.save_snapshot("notes", random_memory(2), position=3, parent=first, kind="final",
                        sources=[NewSource(2, "/r/x", status="failed", reason="unreadable", error="EACCES")])
        s.create_corpus("empty", FP_A, "tiny-a")
    return str(db_path)


def run(*args, input=None):
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result


def test_corpora_lists_with_sizes_and_counts(filled):
    r = run("corpora", "--db", filled)
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[0].split() == ["NAME", "MODEL", "SOURCES", "SKIPPED", "FAILED", "SIZE", "TOKENS", "SEGMENTS",
                                "SNAPSHOTS", "MEMORY", "UPDATED", "STATE"]
    assert lines[1].split()[:10] == ["empty", "tiny-a", "0", "0", "0", "0", "B", "0", "0", "0"]
    assert lines[2].split()[:10] == ["notes", "tiny-a", "1", "1", "1", "2.0", "KB", "30", "2", "2"]
    # "empty" has no snapshot: no ingest of it has finished
    assert [line.split()[-1] for line in lines[1:]] == ["incomplete", "complete"]


def test_corpora_json(filled):
    r = run("corpora", "--db", filled, "--json")
    data = json.loads(r.output)
    assert [c["name"] for c in data] == ["empty", "notes"]
    assert {k: data[1][k] for k in ("sources", "skipped", "failed", "bytes", "tokens", "segments", "snapshots")} == {
        "sources": 1, "skipped": 1, "failed": 1, "bytes": 2048, "tokens": 30, "segments": 2, "snapshots": 2}


def test_corpora_uses_docqa_db_by_default_and_says_when_empty(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCQA_DB", str(tmp_path / "env.db"))
    r = run("corpora")
    assert r.output == f"no corpora in {tmp_path / 'env.db'} yet\n"


def test_show_lists_snapshots_and_what_was_left_out(filled):
    r = run("show", "notes", "--db", filled)
    assert r.exit_code == 0
    assert r.output.startswith(f"corpus notes: model tiny-a (fingerprint {FP_A[:16]})\n"
                               "1 sources (2.0 KB), 1 skipped, 1 failed; 30 tokens, 2 segments; updated ")
    assert "\nsnapshots:\nID  KIND" in r.output
    left_out = r.output.split("left out:\n")[1].splitlines()
    assert [line.split(None, 3) for line in left_out] == [
        ["POSITION", "STATUS", "URI", "REASON"], ["1", "skipped", "/r/logo.png", "binary file (.png)"],
        ["2", "failed", "/r/x", "unreadable (EACCES)"]]
    assert "/r/a.md" not in r.output
    assert "/r/a.md" in run("show", "notes", "--sources", "--db", filled).output


def test_show_json(filled):
    data = json.loads(run("show", "notes", "--db", filled, "--json").output)
    assert data["corpus"]["name"] == "notes"
    assert [(s["kind"], s["is_current"]) for s in data["snapshots"]] == [("checkpoint", False), ("final", True)]
    assert [(s["status"], s["reason"]) for s in data["sources"]] == [
        ("ingested", None), ("skipped", "binary file (.png)"), ("failed", "unreadable")]


def test_show_unknown_corpus_is_one_line_and_exit_1(filled):
    r = CliRunner().invoke(cli, ["show", "nope", "--db", filled])
    assert r.exit_code == 1
    assert r.output == f"Error: no corpus named 'nope' in {filled}: list them with `docqa corpora`\n"


def test_rm_asks_first(filled):
    r = run("rm", "notes", "--db", filled, input="n\n")
    assert r.exit_code == 1 and "Remove corpus notes (1 sources, 2 snapshots)? [y/N]" in r.output
    assert "notes" in run("corpora", "--db", filled).output
    r = run("rm", "notes", "--db", filled, input="y\n")
    assert r.exit_code == 0 and r.output.endswith("removed corpus notes\n")
    assert "notes" not in run("corpora", "--db", filled).output


def test_rm_yes_json(filled):
    r = run("rm", "notes", "--yes", "--json", "--db", filled)
    assert r.exit_code == 0 and json.loads(r.output) == {"removed": "notes"}
    assert [c["name"] for c in json.loads(run("corpora", "--json", "--db", filled).output)] == ["empty"]


def test_rm_unknown(filled):
    r = CliRunner().invoke(cli, ["rm", "nope", "--yes", "--db", filled])
    assert r.exit_code == 1 and "no corpus named 'nope'" in r.output


@pytest.mark.parametrize("command", ["corpora", "show", "rm"])
def test_help(command):
    r = run(command, "--help")
    assert r.exit_code == 0 and "--json" in r.output and "--db" in r.output
