"""The product end to end: the real CLI against a real store, with a tiny model."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from docqa.cli.main import cli
from docqa.store import Store



def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def memory_of(db, corpus, model_fp):
    with Store(db) as s:
        return s.load_snapshot(corpus, model_fingerprint=model_fp)


def fingerprint(model_dir):
    from docqa.model.io import fingerprint as fp
    return fp(model_dir)


def ingest(db, folder, model_dir, *extra):
    out = run("ingest", folder, "--corpus", "c", "--db", db, "--model", model_dir, "--json", *extra)
    return json.loads(out.output)


def test_ingest_then_ask_reports_and_streams(tmp_path, model_dir, make_folder):
    folder = make_folder(tmp_path / "src")
    report = ingest(tmp_path / "s.db", folder, model_dir)
    assert report["ingested"] == 12 and report["up_to_date"] is False
    assert sorted(r[1] for r in report["skipped"] + report["failed"]) == ["binary file (.png)", "not a readable PDF"] or \
        len(report["skipped"]) + len(report["failed"]) == 2
    out = run("ask", "c", "What is code 3?", "--db", tmp_path / "s.db", "--model", model_dir, "--json",
              "--max-tokens", "5")
    answer = json.loads(out.output)
    assert answer["corpus"] == "c" and answer["answer_tokens"] <= 5 and answer["snapshot_id"] == report["snapshot_id"]
    assert answer["prompt_tokens"] == len("What is code 3?") + 2
    plain = run("ask", "c", "What is code 3?", "--db", tmp_path / "s.db", "--model", model_dir, "--max-tokens", "5")
    assert plain.output.rstrip("\n") == answer["text"]


def test_second_ingest_of_unchanged_folder_does_nothing(tmp_path, model_dir, make_folder):
    folder = make_folder(tmp_path / "src")
    first = ingest(tmp_path / "s.db", folder, model_dir)
    again = ingest(tmp_path / "s.db", folder, model_dir)
    assert again["up_to_date"] and again["tokens"] == 0 and again["snapshot_id"] == first["snapshot_id"]


# stream order: broken.pdf, file00..file11 (items 1-12), image.png; file09 is item 10 and a new
# file10b.txt lands at item 12
@pytest.mark.parametrize("change,first_changed", [("edit", 10), ("remove", 10), ("add", 12)])
def test_changed_folder_rewinds_and_equals_a_fresh_ingest(tmp_path, model_dir, make_folder, change, first_changed):
    folder = make_folder(tmp_path / "src")
    db = tmp_path / "s.db"
    first = ingest(db, folder, model_dir, "--checkpoint-segments", "4")
    assert first["checkpoints"] >= 3
    if change == "edit":
        (folder / "file09.txt").write_text("Changed. The code is 999.\n")
    elif change == "remove":
        (folder / "file09.txt").unlink()
    else:
        (folder / "file10b.txt").write_text("A new file.\n")
    second = ingest(db, folder, model_dir, "--checkpoint-segments", "4")
    assert not second["up_to_date"]
    assert 0 < second["restreamed_from"] <= first_changed, "rewinds to a checkpoint before the change, not to the start"
    assert second["tokens"] < first["tokens"]
    fresh = ingest(tmp_path / "fresh.db", folder, model_dir)
    fp = fingerprint(model_dir)
    assert memory_of(db, "c", fp).equal(memory_of(tmp_path / "fresh.db", "c", fp))


KILLER = """
import os, signal, sys
from docqa.store.store import Store
original, calls = Store.save_snapshot, []
def save_then_die(self, *args, **kwargs):
    sid = original(self, *args, **kwargs)
    calls.append(sid)
    if len(calls) == int(os.environ["KILL_AFTER"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return sid
Store.save_snapshot = save_then_die
from docqa.cli.main import cli
cli(sys.argv[1:])
"""


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path, model_dir, make_folder):
    folder = make_folder(tmp_path / "src")
    db = tmp_path / "s.db"
    args = ["ingest", str(folder), "--corpus", "c", "--db", str(db), "--model", model_dir,
            "--checkpoint-segments", "4"]
    proc = subprocess.run([sys.executable, "-c", KILLER, *args], env={**os.environ, "KILL_AFTER": "2"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    with Store(db) as s:
        snap = s.current_snapshot("c")
        assert snap.kind == "checkpoint" and 0 < snap.position < 14
    resumed = ingest(db, folder, model_dir, "--checkpoint-segments", "4")
    assert resumed["restreamed_from"] == snap.position
    straight = ingest(tmp_path / "straight.db", folder, model_dir, "--checkpoint-segments", "4")
    fp = fingerprint(model_dir)
    assert memory_of(db, "c", fp).equal(memory_of(tmp_path / "straight.db", "c", fp))
    assert resumed["ingested"] == straight["ingested"] == 12


def test_user_errors_are_one_clear_line(tmp_path, model_dir, make_folder, other_model_dir):
    db = tmp_path / "s.db"
    r = run("ask", "nope", "q", "--db", db, "--model", model_dir, ok=False)
    assert r.exit_code == 1 and "no corpus named 'nope'" in r.output and "Traceback" not in r.output
    r = run("ingest", tmp_path / "missing", "--db", db, "--model", model_dir, ok=False)
    assert r.exit_code == 1 and "no such file or directory" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.bin").write_bytes(bytes(100))
    r = run("ingest", empty, "--db", db, "--model", model_dir, ok=False)
    assert r.exit_code == 1 and "nothing to ingest" in r.output
    ingest(db, make_folder(tmp_path / "src", 2), model_dir)
    r = run("ask", "c", "q", "--db", db, "--model", other_model_dir, ok=False)
    assert r.exit_code == 1 and "was built with model" in r.output
    r = run("ask", "c", "x" * 200, "--db", db, "--model", model_dir, ok=False)
    assert r.exit_code == 1 and "shorten the question" in r.output
    r = run("ingest", tmp_path / "src", "--connector", "nosuch", "--db", db, "--model", model_dir, ok=False)
    assert r.exit_code == 1 and "nosuch" in r.output


def test_chat_keeps_turns_and_never_changes_the_corpus_memory(tmp_path, model_dir, make_folder):
    db = tmp_path / "s.db"
    ingest(db, make_folder(tmp_path / "src", 3), model_dir)
    fp = fingerprint(model_dir)
    before = memory_of(db, "c", fp)
    out = json.loads(run("chat", "c", "-m", "hello", "-m", "and then?", "--db", db, "--model", model_dir,
                         "--json", "--max-tokens", "4").output)
    assert len(out["turns"]) == 2
    # the second prompt carried the first turn
    assert out["turns"][1]["prompt_tokens"] > out["turns"][0]["prompt_tokens"]
    cont = json.loads(run("chat", "c", "-c", "-m", "more", "--db", db, "--model", model_dir, "--json",
                          "--max-tokens", "4").output)
    assert cont["conversation"] == out["conversation"]
    with Store(db) as s:
        turns = s.get_conversation(out["conversation"]).turns
    assert [t.role for t in turns] == ["user", "assistant"] * 3
    assert [t.content for t in turns][::2] == ["hello", "and then?", "more"]
    assert memory_of(db, "c", fp).equal(before)


def test_chat_with_messages_does_not_ask_for_input_and_takes_a_template(tmp_path, model_dir, make_folder):
    db = tmp_path / "s.db"
    ingest(db, make_folder(tmp_path / "src", 3), model_dir)
    out = run("chat", "c", "-m", "hello", "--db", db, "--model", model_dir, "--max-tokens", "2")
    assert "conversation 1 with c" in out.stderr and "Ctrl-D" not in out.stderr
    tpl = tmp_path / "wordy.txt"
    tpl.write_text("Answer from the documents.\n{history}<|question|>{question}<|answer|>")
    plain = json.loads(run("chat", "c", "-m", "hello", "--db", db, "--model", model_dir, "--json",
                           "--max-tokens", "2").output)
    wordy = json.loads(run("chat", "c", "-m", "hello", "--db", db, "--model", model_dir, "--json",
                           "--max-tokens", "2", "--template", tpl).output)
    assert wordy["turns"][0]["prompt_tokens"] == plain["turns"][0]["prompt_tokens"] + len("Answer from the documents.\n")
    bad = tmp_path / "nohistory.txt"
    bad.write_text("<|question|>{question}<|answer|>")
    r = run("chat", "c", "-c", "-m", "hello", "--db", db, "--model", model_dir, "--template", bad, ok=False)
    assert r.exit_code == 1 and "{history}" in r.output


def test_connectors_are_listed_and_stdin_is_ingested(tmp_path, model_dir):
    assert run("connectors").output.split() == ["pdf", "repo", "text"]
    result = CliRunner().invoke(cli, ["ingest", "-", "--corpus", "piped", "--db", str(tmp_path / "s.db"),
                                      "--model", model_dir, "--json"], input="The pass key is 11111.\n")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # one <|doc|> token, the header, then the text byte by byte
    assert report["ingested"] == 1 and report["tokens"] == 1 + len("### <stdin>\n") + len("The pass key is 11111.\n")


def test_a_bug_is_one_line_with_exit_2_and_its_traceback_behind_debug(tmp_path, model_dir, monkeypatch):
    import docqa.api

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(docqa.api.Corpus, "ingest", broken)
    monkeypatch.setenv("DOCQA_DEBUG", "")
    r = CliRunner().invoke(cli, ["ingest", str(tmp_path), "--model", model_dir])
    assert r.exit_code == 2
    assert "internal error (ZeroDivisionError: boom); rerun with --debug" in r.output
    r = CliRunner().invoke(cli, ["--debug", "ingest", str(tmp_path), "--model", model_dir])
    assert isinstance(r.exception, ZeroDivisionError)


def test_crash_during_a_re_ingest_keeps_the_previous_snapshot_current(tmp_path, model_dir, make_folder):
    folder = make_folder(tmp_path / "src")
    db = tmp_path / "s.db"
    first = ingest(db, folder, model_dir, "--checkpoint-segments", "4")
    fp = fingerprint(model_dir)
    before = memory_of(db, "c", fp)
    (folder / "file02.txt").write_text("Changed early, so the re-ingest takes several checkpoints.\n")
    args = ["ingest", str(folder), "--corpus", "c", "--db", str(db), "--model", model_dir, "--checkpoint-segments", "4"]
    proc = subprocess.run([sys.executable, "-c", KILLER, *args], env={**os.environ, "KILL_AFTER": "1"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    with Store(db) as s:
        current = s.current_snapshot("c")
    assert current.id == first["snapshot_id"] and current.superseded
    assert memory_of(db, "c", fp).equal(before)  # answers still come from the last good snapshot
    resumed = ingest(db, folder, model_dir, "--checkpoint-segments", "4")
    fresh = ingest(tmp_path / "fresh.db", folder, model_dir)
    assert memory_of(db, "c", fp).equal(memory_of(tmp_path / "fresh.db", "c", fp))
    with Store(db) as s:
        assert not any(snap.superseded for snap in s.list_snapshots("c"))
        assert s.current_snapshot("c").id == resumed["snapshot_id"]


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_an_empty_question_is_a_usage_error(tmp_path, model_dir, make_folder, question):
    ingest(tmp_path / "s.db", make_folder(tmp_path / "src"), model_dir)
    r = run("ask", "c", question, "--db", tmp_path / "s.db", "--model", model_dir, ok=False)
    assert r.exit_code == 2 and "question is empty" in r.output


def test_a_closed_stdout_ends_the_command_quietly(tmp_path, model_dir, make_folder):
    """`docqa show NAME --sources | head -1`: the reader goes away; that is not a bug."""
    ingest(tmp_path / "s.db", make_folder(tmp_path / "src", n=40), model_dir)
    proc = subprocess.Popen([sys.executable, "-c", "from docqa.cli.main import cli; cli()", "show", "c",
                             "--sources", "--db", str(tmp_path / "s.db")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "DOCQA_DEBUG": ""})
    proc.stdout.close()  # like `head` exiting before the command writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


SLOW_INGEST = """
import os, sys, time
from pathlib import Path
from docqa.store.store import Store
original = Store.save_snapshot
def save_then_wait(self, *args, **kwargs):
    sid = original(self, *args, **kwargs)
    Path(os.environ["MARKER"]).touch()  # the first run is inside its ingest, holding the corpus
    time.sleep(float(os.environ["HOLD_S"]))
    return sid
Store.save_snapshot = save_then_wait
from docqa.cli.main import cli
cli(sys.argv[1:])
"""


def test_a_second_ingest_of_the_same_corpus_is_refused_or_waits(tmp_path, model_dir, make_folder):
    """Two real `docqa ingest` processes into one corpus: the second says who writes it and
    exits 1, or with --wait starts when the first ends; the memory is a clean ingest's."""
    folder = make_folder(tmp_path / "src")
    db = tmp_path / "s.db"
    args = ["ingest", str(folder), "--corpus", "c", "--db", str(db), "--model", model_dir,
            "--checkpoint-segments", "4"]
    marker = tmp_path / "marker"
    env = {**os.environ, "MARKER": str(marker), "HOLD_S": "1.5", "DOCQA_DEBUG": ""}
    first = subprocess.Popen([sys.executable, "-c", SLOW_INGEST, *args], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), first.stderr.read()
    docqa = [sys.executable, "-c", "from docqa.cli.main import cli; cli()"]
    second = subprocess.run([*docqa, *args], env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 1, second.stderr
    assert f"corpus 'c' is being written by another docqa (pid {first.pid}, since " in second.stderr
    assert "--wait" in second.stderr and "UNIQUE" not in second.stderr
    assert second.stderr.count("\n") <= 2  # the progress line, then one line saying why
    waiting = subprocess.run([*docqa, *args, "--wait", "--json"], env=env, capture_output=True, text=True,
                             timeout=300)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert waiting.returncode == 0, waiting.stderr
    assert f"(pid {first.pid}, since " in waiting.stderr and "waiting for it to end" in waiting.stderr
    assert json.loads(waiting.stdout)["up_to_date"], "it started after the first one had finished"
    fresh = ingest(tmp_path / "fresh.db", folder, model_dir)
    fp = fingerprint(model_dir)
    assert memory_of(db, "c", fp).equal(memory_of(tmp_path / "fresh.db", "c", fp))
    assert fresh["ingested"] == 12


def test_ask_and_chat_pass_contrast_to_the_decoder(tmp_path, model_dir, make_folder, contrasts):
    seen = contrasts
    db = str(tmp_path / "s.db")
    folder = make_folder(tmp_path / "docs", n=2)
    r = CliRunner().invoke(cli, ["ingest", str(folder), "--corpus", "c", "--db", db, "--model", model_dir])
    assert r.exit_code == 0, r.output
    for extra, want in (([], 0.0), (["--contrast", "1.25"], 1.25)):
        r = CliRunner().invoke(cli, ["ask", "c", "What is it?", "--db", db, "--model", model_dir,
                                     "--max-tokens", "3", *extra])
        assert r.exit_code == 0, r.output
        assert seen[-1] == want
    r = CliRunner().invoke(cli, ["chat", "c", "-m", "hi", "--db", db, "--model", model_dir, "--max-tokens", "3",
                                 "--contrast", "2"])
    assert r.exit_code == 0, r.output
    assert seen[-1] == 2.0
    r = CliRunner().invoke(cli, ["ask", "c", "What is it?", "--db", db, "--model", model_dir, "--contrast", "-1"])
    assert r.exit_code != 0 and "--contrast" in r.output
