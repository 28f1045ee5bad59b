"""What an ingest into an existing corpus may do without asking, and what an interrupted one leaves."""

import json
import shlex

import pytest
from click.testing import CliRunner

from docqa.cli.main import cli
from docqa.model.io import fingerprint
from docqa.store import Store
from docqa.store.store import Store as StoreClass


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def ingest(db, folder, model_dir, *extra, ok=True):
    return run("ingest", folder, "--corpus", "c", "--db", db, "--model", model_dir, *extra, ok=ok)


def state(db):
    """Everything a refused command must leave as it was."""
    with Store(db) as s:
        return (s.get_corpus("c"), s.list_snapshots("c"), s.list_sources("c"))


def memory_of(db, model_dir):
    with Store(db) as s:
        return s.load_snapshot("c", model_fingerprint=fingerprint(model_dir))


def test_ingesting_other_roots_into_a_corpus_is_refused_until_replace(tmp_path, model_dir, make_folder):
    db = tmp_path / "s.db"
    a, b = make_folder(tmp_path / "a", 3), make_folder(tmp_path / "b", 5)
    ingest(db, a, model_dir)
    before = state(db)
    r = ingest(db, b, model_dir, ok=False)
    assert r.exit_code == 1
    error = r.stderr.strip().splitlines()[-1]
    assert error == (f"Error: corpus 'c' was ingested from {a}, not {b}: pass --replace to replace its sources "
                     "with these, or ingest them into another corpus with --corpus NAME")
    assert state(db) == before  # nothing of it was touched
    replaced = json.loads(ingest(db, b, model_dir, "--replace", "--json").stdout)
    assert replaced["ingested"] == 5
    with Store(db) as s:
        assert s.get_corpus("c").roots == [str(b)]
        assert {r.uri for r in s.list_sources("c")} == {str(p) for p in b.iterdir()}
    run("ingest", b, "--corpus", "fresh", "--db", db, "--model", model_dir)
    with Store(db) as s:
        fresh = s.load_snapshot("fresh", model_fingerprint=fingerprint(model_dir))
    assert memory_of(db, model_dir).equal(fresh)
    assert ingest(db, a, model_dir, ok=False).exit_code == 1, "the corpus is b's now"


def test_the_same_roots_however_spelled_re_ingest_incrementally(tmp_path, model_dir, make_folder, monkeypatch):
    db = tmp_path / "s.db"
    a, b = make_folder(tmp_path / "a", 3), make_folder(tmp_path / "b", 2)
    first = json.loads(run("ingest", a, b, "--corpus", "c", "--db", db, "--model", model_dir, "--json").stdout)
    monkeypatch.chdir(tmp_path)
    (a / "new.txt").write_text("A new file.\n")
    again = json.loads(run("ingest", "b", "./a/../a", "--corpus", "c", "--db", db, "--model", model_dir,
                           "--json").stdout)
    assert not again["up_to_date"] and again["ingested"] == first["ingested"] + 1
    assert json.loads(run("ingest", "b", "a", "--corpus", "c", "--db", db, "--model", model_dir, "--json")
                      .stdout)["up_to_date"]


def test_a_corpus_from_before_roots_were_kept_takes_its_next_ingest(tmp_path, model_dir, make_folder):
    db = tmp_path / "s.db"
    a = make_folder(tmp_path / "a", 3)
    ingest(db, a, model_dir)
    with Store(db) as s:
        s.db.execute("UPDATE corpora SET roots = NULL")  # what m007 leaves on an older store's corpora
        s.db.conn.commit()
    assert json.loads(ingest(db, a, model_dir, "--json").stdout)["up_to_date"]
    with Store(db) as s:
        assert s.get_corpus("c").roots == [str(a)]


@pytest.fixture
def interrupted(tmp_path, model_dir, make_folder, monkeypatch):
    """An ingest stopped by Ctrl-C just after its second checkpoint landed."""
    folder = make_folder(tmp_path / "src")
    db = tmp_path / "s.db"
    original, calls = StoreClass.save_snapshot, []

    def save_then_ctrl_c(self, *args, **kwargs):
        sid = original(self, *args, **kwargs)
        calls.append(sid)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return sid

    monkeypatch.setattr(StoreClass, "save_snapshot", save_then_ctrl_c)
    r = ingest(db, folder, model_dir, "--checkpoint-segments", "4", ok=False)
    monkeypatch.setattr(StoreClass, "save_snapshot", original)
    return folder, db, r, calls


def test_ctrl_c_says_a_checkpoint_was_kept_and_the_command_to_resume(interrupted, model_dir, tmp_path):
    folder, db, r, calls = interrupted
    assert r.exit_code == 130
    assert "Aborted!" not in r.output and r.stdout == ""
    with Store(db) as s:
        kept = s.get_snapshot("c", calls[-1])
    lines = r.stderr.splitlines()
    assert lines[-2] == (f"interrupted: corpus 'c' keeps a checkpoint covering its first {kept.position} "
                         f"sources (snapshot {kept.id}); resume with:")
    command = shlex.split(lines[-1])
    assert command == ["docqa", "ingest", str(folder), "--corpus", "c", "--checkpoint-segments", "4",
                       "--model", model_dir, "--db", str(db)]
    resumed = json.loads(run(*command[1:], "--json").stdout)
    assert resumed["restreamed_from"] == kept.position
    run("ingest", folder, "--corpus", "c", "--db", tmp_path / "straight.db", "--model", model_dir,
        "--checkpoint-segments", "4")
    with Store(tmp_path / "straight.db") as s:
        straight = s.load_snapshot("c", model_fingerprint=fingerprint(model_dir))
    assert memory_of(db, model_dir).equal(straight)


def test_an_interrupted_corpus_is_marked_incomplete_and_still_answers(interrupted, model_dir):
    folder, db, _, _ = interrupted
    listed = json.loads(run("corpora", "--db", db, "--json").stdout)
    assert [(c["name"], c["incomplete"]) for c in listed] == [("c", True)]
    assert json.loads(run("show", "c", "--db", db, "--json").stdout)["corpus"]["incomplete"] is True
    table = run("corpora", "--db", db).stdout.splitlines()
    assert table[0].split()[-1] == "STATE" and table[1].split()[-1] == "incomplete"
    shown = run("show", "c", "--db", db).stdout.splitlines()
    assert shown[2] == (f"incomplete: its last ingest did not finish; resume with: docqa ingest {folder} "
                        f"--corpus c --db {db}")
    r = run("ask", "c", "What is code 3?", "--db", db, "--model", model_dir, "--max-tokens", "3")
    assert r.stdout.endswith("\n") and len(r.stdout) > 1
    assert r.stderr == (f"warning: corpus 'c' is incomplete (its last ingest did not finish), so answers may "
                        f"miss sources; resume it with: docqa ingest {folder} --corpus c --model {model_dir} "
                        f"--db {db}\n")
    ingest(db, folder, model_dir, "--checkpoint-segments", "4")
    assert json.loads(run("corpora", "--db", db, "--json").stdout)[0]["incomplete"] is False
    assert run("corpora", "--db", db).stdout.splitlines()[1].split()[-1] == "complete"
    assert run("ask", "c", "What is code 3?", "--db", db, "--model", model_dir, "--max-tokens", "3").stderr == ""


def test_a_re_ingest_interrupted_before_it_finished_is_incomplete(tmp_path, model_dir, make_folder, monkeypatch):
    """The previous snapshot stays current (superseded) while a re-ingest runs: answers work, flagged."""
    folder = make_folder(tmp_path / "src")
    db = tmp_path / "s.db"
    ingest(db, folder, model_dir, "--checkpoint-segments", "4")
    (folder / "file02.txt").write_text("Changed early.\n")
    original = StoreClass.save_snapshot

    def ctrl_c(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(StoreClass, "save_snapshot", ctrl_c)
    assert ingest(db, folder, model_dir, "--checkpoint-segments", "4", ok=False).exit_code == 130
    monkeypatch.setattr(StoreClass, "save_snapshot", original)
    with Store(db) as s:
        assert s.current_snapshot("c").superseded and s.get_corpus("c").incomplete
