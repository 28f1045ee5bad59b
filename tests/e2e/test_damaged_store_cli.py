"""A damaged or full store file, through the real CLI with a tiny model and a tiny store.

Every failure of the file is a user error (one line, exit 1, never the exit 2 of a bug); no
answer is ever printed from a damaged snapshot; `docqa check` finds the damage and `--repair`
keeps exactly what is intact; an ingest after a full disk or a repair ends byte-identical to
an uninterrupted one. The seeded run overwrites random bytes of copies of one prepared store,
as the issue's measurement did, and runs the commands in-process (CliRunner).
"""

import collections
import json
import random
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from docqa.cli.main import cli

SEED = 15
QUESTION = "What is code 3?"
BUG = "internal error"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_user_facing(r, command, report=False):
    """Exit 0, or exit 1 with one line naming the problem (`report`: or with check's report):
    never a bug's exit 2, never a traceback."""
    assert r.exit_code in (0, 1), f"{command}: exit {r.exit_code}: {r.output}"
    assert BUG not in r.output and "Traceback" not in r.output, f"{command}: {r.output}"
    if r.exit_code == 1 and not (report and r.output.startswith(("store ", "nothing", "rebuilt", "c:", "could not"))):
        errors = [line for line in r.output.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1 and r.output.endswith(errors[0] + "\n") and not r.stdout, f"{command}: {r.output}"


def raw_snapshot(db, rowids):
    """The snapshot's own rows, read by rowid through plain sqlite3 (no docqa, no index), or None
    when SQLite cannot read them: the oracle for whether a snapshot's contents were damaged."""
    try:
        con = sqlite3.connect(db)
        try:
            snap = con.execute("SELECT id, corpus_id, kind, position, segments, n_layers, pending, pending_sha256 "
                               "FROM snapshots WHERE rowid = ?", [rowids[0]]).fetchall()  # its parent may go
            layers = [con.execute("SELECT * FROM snapshot_layers WHERE rowid = ?", [r]).fetchall()
                      for r in rowids[1]]
            pointer = con.execute("SELECT current_snapshot_id FROM corpora WHERE rowid = 1").fetchall()
            return snap, layers, pointer
        finally:
            con.close()
    except (sqlite3.Error, UnicodeDecodeError):
        return None


def snapshot_rowids(db):
    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute("SELECT id FROM snapshots ORDER BY id")]
    out = {sid: (sid, [r[0] for r in con.execute("SELECT rowid FROM snapshot_layers WHERE snapshot_id = ? "
                                                 "ORDER BY layer", [sid])]) for sid in ids}
    con.close()
    return out


def ask(db, model_dir, *extra):
    return run("ask", "c", QUESTION, "--db", db, "--model", model_dir, "--max-tokens", "3", "--json", *extra)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, model_dir):
    """One small store: 6 snapshots of one corpus (5 checkpoints and the final), a conversation;
    and what every snapshot answers."""
    root = tmp_path_factory.mktemp("pristine")
    db = root / "s.db"
    folder = make_folder(root / "src")
    assert run("ingest", folder, "--corpus", "c", "--db", db, "--model", model_dir,
               "--checkpoint-segments", "4").exit_code == 0
    assert run("chat", "c", "-m", "hello", "--db", db, "--model", model_dir, "--max-tokens", "3").exit_code == 0
    rowids = snapshot_rowids(db)
    answers = {sid: json.loads(ask(db, model_dir, "--snapshot", sid).stdout)["text"] for sid in rowids}
    current = json.loads(ask(db, model_dir).stdout)["snapshot_id"]
    assert current == max(rowids) and len(rowids) >= 5
    raw = {sid: raw_snapshot(db, r) for sid, r in rowids.items()}
    return dict(db=db, folder=folder, rowids=rowids, answers=answers, current=current, raw=raw,
                current_spans=_spans(db, current))


def _spans(db, snapshot_id):
    """Where in the file the snapshot's own bytes lie: its layer blobs, its pending tail and their
    checksums (each stored in one piece on its page, so found by searching the file)."""
    con = sqlite3.connect(db)
    values = [v for row in con.execute("SELECT blob, sha256 FROM snapshot_layers WHERE snapshot_id = ?", [snapshot_id])
              for v in row]
    values += list(con.execute("SELECT pending, pending_sha256 FROM snapshots WHERE id = ?", [snapshot_id]).fetchone())
    con.close()
    data = db.read_bytes()
    found = [(data.find(v if isinstance(v, bytes) else v.encode()), len(v)) for v in values]
    assert all(start >= 0 for start, _ in found)
    return found


def make_folder(root, n=6):
    root.mkdir(parents=True)
    for i in range(n):
        (root / f"file{i:02d}.txt").write_text(f"Document {i}. " + "The grass is green. " * (5 + i) + f"Code {i * 7}.\n")
    return root


def corrupt(src, dst, rng, spans=None):
    """Overwrite 1-32 random bytes of a copy of `src` at a random offset (what the issue measured),
    or at one inside a random span of `spans`."""
    shutil.copyfile(src, dst)
    data = bytearray(dst.read_bytes())
    if spans:
        start, length = rng.choice(spans)
        offset = start + rng.randrange(length)
    else:
        offset = rng.randrange(len(data))
    n = rng.randint(1, 32)
    data[offset:offset + n] = rng.randbytes(min(n, len(data) - offset))
    dst.write_bytes(bytes(data))
    return offset, n


@pytest.mark.parametrize("target,cases", [("anywhere", 60), ("the current snapshot", 20)])
def test_random_corruption_is_always_a_user_error_and_never_a_wrong_answer(pristine, model_dir, tmp_path,
                                                                            monkeypatch, target, cases):
    """The issue's "done when": seeded runs of random corruptions of a real store, anywhere in
    the file (most bytes of a small store are free space or older snapshots), and inside the
    current snapshot's own bytes, each damage of which must be refused."""
    monkeypatch.setenv("DOCQA_DEBUG", "")  # what users get: a bug would be exit 2, "internal error"
    rng = random.Random(SEED)
    outcomes = collections.Counter()
    p = pristine
    for case in range(cases):
        db = tmp_path / f"case{case}.db"  # a path of its own: nothing cached under another case's
        offset, n = corrupt(p["db"], db, rng, p["current_spans"] if target == "the current snapshot" else None)
        where = f"case {case} (offset {offset}, {n} bytes)"
        raw = {sid: raw_snapshot(db, r) for sid, r in p["rowids"].items()}
        current_damaged = raw[p["current"]] != p["raw"][p["current"]]

        for command in (["corpora"], ["show", "c"]):
            assert_user_facing(run(*command, "--db", db), f"{where}: {command[0]}")
        r = ask(db, model_dir)
        assert_user_facing(r, f"{where}: ask")
        if r.exit_code == 0:
            answer = json.loads(r.stdout)
            assert not current_damaged, f"{where}: answered from a damaged current snapshot"
            assert (answer["snapshot_id"], answer["text"]) == (p["current"], p["answers"][p["current"]]), where
        checked = run("check", "--db", db)
        assert_user_facing(checked, f"{where}: check", report=True)
        if checked.exit_code == 0:
            assert r.exit_code == 0 and not current_damaged, f"{where}: check missed the damage"

        repaired = run("check", "c", "--repair", "--db", db)
        assert_user_facing(repaired, f"{where}: check --repair", report=True)
        for sid, rows in p["rowids"].items():  # a repair deletes nothing intact
            if raw[sid] is not None and raw[sid][:2] == p["raw"][sid][:2]:
                assert raw_snapshot(db, rows) is not None and raw_snapshot(db, rows)[0], \
                    f"{where}: repair dropped intact snapshot {sid}"
        after = ask(db, model_dir)
        assert_user_facing(after, f"{where}: ask after repair")
        if after.exit_code == 0:
            answer = json.loads(after.stdout)
            sid = answer["snapshot_id"]
            assert raw_snapshot(db, p["rowids"][sid])[:2] == p["raw"][sid][:2], f"{where}: answered from damage"
            assert answer["text"] == p["answers"][sid], where

        outcomes[_outcome(r, checked, repaired, after, current_damaged)] += 1
    print(f"\n{cases} corruptions of {target} (seed {SEED}):", dict(outcomes))
    assert sum(outcomes.values()) == cases
    if target == "the current snapshot":
        assert not any(o.startswith("answered") for o in outcomes), outcomes


def _outcome(r, checked, repaired, after, current_damaged) -> str:
    if "cannot open the store" in r.output:
        return "refused at open"
    ask_said = ("answered (current intact)" if r.exit_code == 0 else
                "ask refused: current snapshot damaged" if "current snapshot" in r.output else "ask refused: store damaged")
    check_said = "check ok" if checked.exit_code == 0 else "check found damage"
    repair_said = ("" if checked.exit_code == 0 else
                   ", repaired" if repaired.exit_code == 0 else ", repair could not mend it")
    after_said = "" if r.exit_code == 0 else (", then answered" if after.exit_code == 0 else ", still refused")
    return f"{ask_said}; {check_said}{repair_said}{after_said}"


# Damage in each table: text that is not UTF-8, a value of another type, a broken b-tree page

DAMAGE = {  # table: (a text column, a column and a value of another type)
    "corpora": ("model_name", "tokens", "'many'"),
    "snapshots": ("created_at", "n_layers", "2.5"),
    "snapshot_layers": ("sha256", "blob", "'text'"),
    "sources": ("uri", "tokens", "x'00'"),
    "conversations": ("created_at", "created_at", "x'00'"),  # (5 would be stored as '5': TEXT affinity)
    "turns": ("content", "content", "x'ff'"),
    "dropped_snapshots": ("problem", "position", "'x'"),
    "_sqlite_migrations": ("name", "name", "5"),  # '5': a name no docqa wrote
}


def _damage_table(db, table, kind):
    con = sqlite3.connect(db)
    with con:
        con.execute("INSERT INTO dropped_snapshots (corpus_id, snapshot_id, kind, position, created_at, problem, "
                    "was_current, sources_forgotten, dropped_at) VALUES (1, 99, 'checkpoint', 1, '2026', 'p', 0, 0, "
                    "'2026')")
        text, column, value = DAMAGE[table]
        last = f"rowid = (SELECT max(rowid) FROM {table})"
        if kind == "text that is not UTF-8":
            con.execute(f"UPDATE {table} SET {text} = CAST(x'c328ff' AS TEXT) WHERE {last}")
        elif kind == "a value of another type":
            con.execute(f"UPDATE {table} SET {column} = {value} WHERE {last}")
        else:
            (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()
    con.close()
    if kind == "a broken page":
        with open(db, "r+b") as f:
            f.seek((root - 1) * 4096 + (100 if root == 1 else 0))
            f.write(b"\x0d\xff\xff\x7f\x7f\x00\x00\xff")  # a leaf whose cell count and content start are nonsense


@pytest.mark.parametrize("kind", ["text that is not UTF-8", "a value of another type", "a broken page"])
@pytest.mark.parametrize("table", list(DAMAGE))
def test_damage_in_each_table_is_a_user_error_and_check_finds_it(pristine, model_dir, tmp_path, monkeypatch,
                                                                 table, kind):
    monkeypatch.setenv("DOCQA_DEBUG", "")
    db = tmp_path / "s.db"
    shutil.copyfile(pristine["db"], db)
    _damage_table(db, table, kind)
    for command in (["corpora"], ["show", "c"], ["ask", "c", QUESTION, "--model", model_dir],
                    ["chat", "c", "-c", "-m", "hello", "--model", model_dir],
                    ["ingest", pristine["folder"], "--corpus", "c", "--model", model_dir]):
        assert_user_facing(run(*command, "--db", db), f"{table}, {kind}: {command[0]}")
    checked = run("check", "--db", db)
    assert_user_facing(checked, f"{table}, {kind}: check", report=True)
    assert checked.exit_code == 1, checked.output
    assert_user_facing(run("check", "--repair", "--db", db), f"{table}, {kind}: check --repair", report=True)


# A full disk, and a repair, each followed by the ingest that ends as an uninterrupted one would

def final_memory_bytes(db):
    """The current snapshot's layer blobs and pending tail, as stored."""
    con = sqlite3.connect(db)
    (sid,) = con.execute("SELECT current_snapshot_id FROM corpora WHERE name = 'c'").fetchone()
    out = ([r[0] for r in con.execute("SELECT blob FROM snapshot_layers WHERE snapshot_id = ? ORDER BY layer", [sid])],
           con.execute("SELECT pending, segments, position, kind FROM snapshots WHERE id = ?", [sid]).fetchone())
    con.close()
    return out


def ingest_json(db, folder, model_dir):
    r = run("ingest", folder, "--corpus", "c", "--db", db, "--model", model_dir, "--checkpoint-segments", "4", "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_a_full_disk_is_one_line_and_the_rerun_resumes_to_the_same_memory(pristine, model_dir, tmp_path,
                                                                           monkeypatch):
    """SQLITE_FULL injected with PRAGMA max_page_count: SQLite's own "database or disk is full",
    raised where a real full disk raises it (allocating a page inside the snapshot's transaction)."""
    from docqa.store import damage

    monkeypatch.setenv("DOCQA_DEBUG", "")
    con = sqlite3.connect(pristine["db"])
    (pages,) = con.execute("PRAGMA page_count").fetchone()
    con.close()
    real_connect = damage.connect

    def small_disk(path):
        conn = real_connect(path)
        conn.execute(f"PRAGMA max_page_count = {pages - 6}")  # room for a few checkpoints, not all
        return conn

    db = tmp_path / "s.db"
    monkeypatch.setattr(damage, "connect", small_disk)
    r = run("ingest", pristine["folder"], "--corpus", "c", "--db", db, "--model", model_dir, "--checkpoint-segments", "4")
    monkeypatch.setattr(damage, "connect", real_connect)
    assert r.exit_code == 1 and BUG not in r.output and "Traceback" not in r.output
    error = r.output.splitlines()[-1]
    assert error.startswith(f"Error: the disk holding the store {db} is full (")
    assert error.endswith("; the snapshot being saved takes 4.6 KB): free some space (or pass --db to use a store "
                          "on another disk) and run the command again; an interrupted `docqa ingest` resumes from its "
                          "last checkpoint") or error.endswith("takes 4.7 KB): free some space (or pass --db to use "
                          "a store on another disk) and run the command again; an interrupted `docqa ingest` resumes "
                          "from its last checkpoint"), error
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    kept = con.execute("SELECT p.kind, p.position FROM snapshots p JOIN corpora c ON p.id = c.current_snapshot_id").fetchone()
    con.close()
    assert kept[0] == "checkpoint" and 0 < kept[1] < 6, "the checkpoints written before the disk filled are kept"

    resumed = ingest_json(db, pristine["folder"], model_dir)  # space freed: the same command again
    assert resumed["restreamed_from"] == kept[1]
    assert final_memory_bytes(db) == final_memory_bytes(pristine["db"])
    assert run("check", "--db", db).exit_code == 0


def test_repair_then_ingest_ends_byte_identical_to_an_uninterrupted_ingest(pristine, model_dir, tmp_path):
    db = tmp_path / "s.db"
    shutil.copyfile(pristine["db"], db)
    current, older = pristine["current"], 2
    data = bytearray(db.read_bytes())
    start, _ = pristine["current_spans"][2]  # the current snapshot's second layer blob
    data[start + 100] ^= 0x40
    db.write_bytes(bytes(data))
    con = sqlite3.connect(db)
    with con:  # and an older checkpoint's pending tail, behind the store's back
        (pending,) = con.execute("SELECT pending FROM snapshots WHERE id = ?", [older]).fetchone()
        con.execute("UPDATE snapshots SET pending = ? WHERE id = ?", [pending[:-1] + b"!", older])
    con.close()
    newest_intact = current - 1

    r = ask(db, model_dir)
    assert r.exit_code == 1
    assert r.output.splitlines()[-1].startswith(f"Error: the current snapshot {current} of corpus 'c' is damaged "
                                                "(layer 1 checksum mismatch (stored ")
    assert r.output.splitlines()[-1].endswith(
        f")): snapshot {newest_intact} (checkpoint, covering the first {newest_intact} sources) is intact: answer from "
        f"it with `--snapshot {newest_intact}`, or make it current with `docqa check c --repair`")
    answer = json.loads(ask(db, model_dir, "--snapshot", newest_intact).stdout)
    assert answer["text"] == pristine["answers"][newest_intact]

    checked = run("check", "c", "--db", db)
    assert checked.exit_code == 1
    lines = checked.output.splitlines()
    assert lines[0] == f"store {db}: SQLite integrity check ok"
    assert lines[1] == f"corpus c: DAMAGED ({current - 2} of {current} snapshots intact)"
    assert lines[1 + older].startswith(f"  snapshot {older} (checkpoint): DAMAGED: pending tokens checksum mismatch")
    assert lines[1 + current].startswith(f"  snapshot {current} (final, current): DAMAGED: layer 1 checksum mismatch")
    assert lines[2 + current] == (f"  answer from snapshot {newest_intact} with `docqa ask c QUESTION --snapshot "
                                  f"{newest_intact}`, or make it current with `docqa check c --repair`")
    report = json.loads(run("check", "c", "--db", db, "--json").stdout)
    assert (report["ok"], report["corpora"][0]["newest_intact_id"]) == (False, newest_intact)
    assert [s["id"] for s in report["corpora"][0]["snapshots"] if not s["intact"]] == [older, current]

    repaired = run("check", "c", "--repair", "--db", db)
    assert repaired.exit_code == 0, repaired.output
    first = repaired.output.splitlines()[0]
    assert first.startswith(f"c: dropped snapshots {older} (pending tokens checksum mismatch")
    assert first.endswith(f"; current is now snapshot {newest_intact}; the next `docqa ingest` resumes from source "
                          f"{newest_intact}")
    shown = json.loads(run("show", "c", "--db", db, "--json").stdout)
    assert [s["id"] for s in shown["snapshots"]] == [i for i in range(1, current) if i != older]  # the intact ones
    assert [(d["snapshot_id"], d["was_current"]) for d in shown["dropped"]] == [(older, False), (current, True)]
    assert shown["dropped"][1]["sources_forgotten"] == 1
    assert "dropped as damaged by `docqa check --repair`:" in run("show", "c", "--db", db).output
    assert json.loads(ask(db, model_dir).stdout)["snapshot_id"] == newest_intact

    resumed = ingest_json(db, pristine["folder"], model_dir)
    assert resumed["restreamed_from"] == newest_intact
    assert final_memory_bytes(db) == final_memory_bytes(pristine["db"])
    assert run("check", "c", "--db", db).exit_code == 0
