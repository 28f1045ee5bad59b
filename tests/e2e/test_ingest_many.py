"""`docqa ingest A B C --corpus-per-path` (issue 14, item 2): each path into its own corpus, the
model calls of all of them batched; each corpus ends as a run of its own would leave it."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import docqa.ingest_many
from docqa.cli.main import cli
from docqa.errors import InputError
from docqa.ingest_many import ingest_many
from docqa.model.io import fingerprint, load_model
from docqa.store import Store


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def folders(tmp_path, make_folder, sizes=(3, 7, 12)):
    return [make_folder(tmp_path / f"src{n}", n) for n in sizes]


def test_batched_corpora_equal_corpora_ingested_one_by_one(tmp_path, model_dir, make_folder, monkeypatch):
    paths = folders(tmp_path, make_folder)
    batch_sizes = []
    streams = docqa.ingest_many.ingest_streams
    monkeypatch.setattr(docqa.ingest_many, "ingest_streams",
                        lambda model, s, m, *a: batch_sizes.append(len(s)) or streams(model, s, m, *a))
    out = run("ingest", *paths, "--corpus-per-path", "--db", tmp_path / "many.db", "--model", model_dir, "--json",
              "--checkpoint-segments", "2")
    reports = json.loads(out.output)
    assert [r["corpus"] for r in reports] == ["src3", "src7", "src12"]
    assert [r["ingested"] for r in reports] == [3, 7, 12] and all(r["checkpoints"] >= 1 for r in reports)
    assert max(batch_sizes) == 3, "the three corpora's model calls ran together"
    fp = fingerprint(model_dir)
    for path, report in zip(paths, reports):
        name = report["corpus"]
        run("ingest", path, "--corpus", name, "--db", tmp_path / "one.db", "--model", model_dir,
            "--checkpoint-segments", "2")
        with Store(tmp_path / "many.db") as a, Store(tmp_path / "one.db") as b:
            got, alone = a.load_snapshot(name, model_fingerprint=fp), b.load_snapshot(name, model_fingerprint=fp)
            assert [s.uri for s in a.list_sources(name)] == [s.uri for s in b.list_sources(name)]
        assert got.segments == alone.segments and torch.equal(got.pending, alone.pending)
        for x, y in zip(got.layers, alone.layers):
            torch.testing.assert_close(x.M, y.M, rtol=1e-5, atol=1e-6)
    again = json.loads(run("ingest", *paths, "--corpus-per-path", "--db", tmp_path / "many.db", "--model",
                           model_dir, "--json").output)
    assert all(r["up_to_date"] for r in again)


def test_one_failing_corpus_leaves_the_others_ingested_and_exits_1(tmp_path, model_dir, make_folder):
    good = make_folder(tmp_path / "good", 2)
    r = run("ingest", good, tmp_path / "missing", "--corpus-per-path", "--db", tmp_path / "s.db", "--model",
            model_dir, ok=False)
    assert r.exit_code == 1
    assert "good: 2 ingested" in r.output
    assert "missing: no such file or directory" in r.output
    assert "Error: 1 of 2 corpora failed: missing" in r.output


def test_corpus_names_must_not_clash(tmp_path, model_dir, make_folder):
    r = run("ingest", make_folder(tmp_path / "a" / "docs", 1), make_folder(tmp_path / "b" / "docs", 1),
            "--corpus-per-path", "--db", tmp_path / "s.db", "--model", model_dir, ok=False)
    assert r.exit_code == 1 and "corpus 'docs' is named by more than one path" in r.output
    r = run("ingest", tmp_path / "a", "--corpus-per-path", "--corpus", "x", "--db", tmp_path / "s.db", ok=False)
    assert r.exit_code == 2 and "--corpus-per-path names each corpus from its path: leave out --corpus" in r.output
    with pytest.raises(InputError, match="no paths to ingest"):
        ingest_many(tmp_path / "s.db", load_model(model_dir), [])
