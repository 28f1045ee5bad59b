import json
import random

import pytest
import torch
from click.testing import CliRunner

from docqa.bench.haystack import hide
from docqa.cli.main import cli
from docqa.errors import InputError
from docqa.model.config import ModelConfig
from docqa.model.io import save_model
from docqa.model.tokenizer import BPETokenizer
from docqa.model.transformer import InfiniTransformer
from docqa.train import phrasings as ph
from docqa.train.tasks import named_facts

PROSE = ("The river winds through the valley, past mills and quiet farms.\n"
         "Each spring the water rises and the ferry stops for a week.\n")


@pytest.fixture(scope="module")
def bpe():
    text = PROSE * 3 + " ".join(ph.STATEMENTS + ph.QUESTIONS + ph.SUBJECTS + ph.NAMES)
    return BPETokenizer.train([text], vocab_size=500)


@pytest.fixture()
def model_dir(tmp_path, bpe):
    torch.manual_seed(0)
    save_model(InfiniTransformer(ModelConfig.from_name("test", vocab_size=bpe.vocab_size, segment_len=32)),
               bpe, tmp_path / "m")
    return tmp_path / "m"


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "hay"
    d.mkdir()
    for i in range(6):
        (d / f"chapter{i}.txt").write_text(PROSE * 12)
    (d / "consts.py").write_text("MAX_WIDTH = 80\n\n\ndef render(text, width=80, *, wrap=True):\n    return text\n\n\n"
                                 "class Box(Base):\n    pass\n")
    return d


@pytest.mark.parametrize("seed", range(10))
def test_hide_keeps_order_and_length_and_ends_before_the_limit(bpe, seed):
    rng = random.Random(seed)
    window = bpe.encode(PROSE * 20)[:400]
    facts = named_facts(rng, 3, "train")
    depths = [rng.random() for _ in facts]
    out = hide(bpe, window, facts, depths, limit=320)
    assert len(out) == len(window)
    text = bpe.decode(out)
    where = [text.index(f[0]) for f in facts]
    assert [w for _, w in sorted(zip(depths, where))] == sorted(where), "statements keep depth order"
    assert all(len(bpe.decode(out[:320])) >= w + len(f[0]) for w, f in zip(where, facts))
    with pytest.raises(InputError, match="do not fit"):
        hide(bpe, window, facts, depths, limit=10)


def test_bench_recall_on_a_haystack_folder(model_dir, folder, tmp_path):
    out = CliRunner().invoke(cli, ["bench", "recall", "--model", str(model_dir), "--haystack", str(folder),
                                   "--lengths", "256", "--depths", "start,end", "--n", "3", "--facts", "2",
                                   "--facts-length", "256", "--seed", "3", "--json", "--plot", str(tmp_path / "h.png")],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    cells = result["cells"]
    assert [(c["task"], c["split"], c["depth"]) for c in cells] == [
        ("needle", "train", "start"), ("needle", "heldout", "start"), ("needle", "train", "end"),
        ("needle", "heldout", "end"), ("facts=2", "train", "spread"), ("facts=2", "heldout", "spread"),
        ("track", "train", "spread"), ("track", "heldout", "spread")]
    # The haystack repeats one paragraph, so BM25 on the question's words finds the statement;
    # at the start it always lies whole inside the first 512-byte chunk.
    assert all(c["fts"] == 1.0 for c in cells if c["depth"] == "start"), cells
    assert all(0 <= c["exact"] <= 1 and 0 <= c["knockout"] <= 1 for c in cells)
    for c in cells:  # every wrong trial is listed, with the fact it asked for and what came back
        assert len(c["misses"]) == round((1 - c["exact"]) * c["n"])
        for m in c["misses"]:
            assert m["got"] != m["answer"] and m["answer"] in m["stored"]
            assert m["answer"] in m["statement"] or c["task"] == "track"
    assert sum(len(c["misses"]) for c in cells) > 0  # a random model misses
    assert result["haystack_tokens"] > 1024
    assert result["seed"] == 3  # what benchmarks/compare_bench.py checks before pairing two benches' trials
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_too_small_haystack_is_a_clear_error(model_dir, tmp_path):
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "a.txt").write_text("short")
    out = CliRunner().invoke(cli, ["bench", "recall", "--model", str(model_dir), "--haystack", str(tmp_path / "tiny")])
    assert out.exit_code == 1 and "needs at least 1,024" in out.output


def test_bench_code_asks_ast_questions_through_ingest(model_dir, folder):
    out = CliRunner().invoke(cli, ["bench", "code", str(folder), "--model", str(model_dir), "--n", "2", "--json"],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["files"] == 7 and result["facts"] >= 4 and result["seed"] == 0
    kinds = {(c["kind"], c["split"]): c for c in result["cells"]}
    assert set(kinds) == {(k, s) for k in ("defines", "params", "constant", "base") for s in ("train", "heldout")}
    assert kinds["params", "heldout"]["examples"][0][:2] == ["What does render accept as parameters?",
                                                             "text, width, wrap"]
    assert kinds["params", "train"]["examples"][0][1] == "text, width, wrap"
    assert kinds["constant", "train"]["fts"] == 1.0  # "MAX_WIDTH = 80" sits in one chunk


def test_a_miss_lists_the_stored_values_in_the_order_they_were_written(model_dir, folder, monkeypatch):
    from docqa.bench import haystack
    from docqa.model.io import load_model

    lm = load_model(model_dir)
    streams = []
    real_hide = haystack.hide
    monkeypatch.setattr(haystack, "hide", lambda *a: streams.append(real_hide(*a)) or streams[-1])
    cell = haystack.run_cell(lm, haystack.Haystack(lm, [str(folder)]), "facts=3", "train", 256, "spread", 4, 0)
    assert len(cell.misses) == 4 - round(cell.exact * 4) and cell.misses
    for miss in cell.misses:
        text = lm.tokenizer.decode(next(s for s in streams if miss["statement"] in lm.tokenizer.decode(s)))
        where = [text.index(v) for v in miss["stored"]]
        assert where == sorted(where)


def test_plot_of_a_bench_with_nothing_to_draw_is_refused_before_it_runs(model_dir, folder, tmp_path):
    out = CliRunner().invoke(cli, ["bench", "recall", "--model", str(model_dir), "--haystack", str(folder),
                                   "--lengths", "", "--facts", "", "--n", "2", "--plot", str(tmp_path / "h.png")])
    assert out.exit_code == 2 and "give --lengths or --facts" in out.output
    assert "haystack:" not in out.output and not (tmp_path / "h.png").exists()  # refused before streaming


def test_bench_code_gain_is_what_the_memory_adds_to_the_true_answer(model_dir, folder, tmp_path):
    from docqa.attribution import score
    from docqa.bench.code import code_bench
    from docqa.ingest import ingest
    from docqa.model.io import load_model
    from docqa.prompt import answer_tokens, question_tokens
    from docqa.store import Store

    lm = load_model(model_dir)
    cells, _ = code_bench(lm, str(folder), 1, splits=("train",))
    cell = next(c for c in cells if c.kind == "params")
    question, truth, _ = cell.examples[0]
    with Store(tmp_path / "own.db") as store:  # the bench's memory, rebuilt through ingest on our own
        report = ingest(store, lm, "own", [str(folder)])
        memory = store.load_snapshot("own", report.snapshot_id, model_fingerprint=lm.fingerprint, model_name=lm.name)
    prompt, ans = question_tokens(lm.tokenizer, question), answer_tokens(lm.tokenizer, truth)
    with_memory, knocked_out = score(lm, memory, prompt, ans), score(lm, memory.clone().zero_(), prompt, ans)
    assert with_memory != knocked_out  # a random model's memory moves the answer: the gain is not 0 by construction
    assert cell.gain == pytest.approx((with_memory - knocked_out) / len(ans), rel=1e-6)


@pytest.mark.parametrize("bench", [["code"], ["recall", "--lengths", "256"]])
def test_a_plot_without_matplotlib_is_refused_before_the_bench_runs(model_dir, folder, tmp_path, monkeypatch, bench):
    import sys

    from docqa.model import io

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    monkeypatch.setattr(io, "load_model", lambda *a, **k: pytest.fail("the bench ran before the plot was refused"))
    args = ["bench", *bench, *([str(folder)] if bench == ["code"] else ["--haystack", str(folder)]),
            "--model", str(model_dir), "--plot", str(tmp_path / "p.png")]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 1 and "pip install 'docqa[plot]'" in out.output
    assert not (tmp_path / "p.png").exists()


def test_fts_answers_which_file_defines_a_name_by_its_top_chunks_source(model_dir, tmp_path):
    # The definition sits far past its file's header, so no 512-byte chunk holds both: a keyword
    # index still names the file, as any retrieval system returns a chunk with its source.
    d = tmp_path / "pkg"
    d.mkdir()
    (d / "widgets.py").write_text("".join(f"# note {i}: the widgets render text in boxes\n" for i in range(40))
                                  + "\n\ndef render_zanzibar(text, width=80):\n    return text\n")
    (d / "other.py").write_text("def helper(x):\n    return x\n")
    from docqa.bench.code import code_bench
    from docqa.model.io import load_model

    cells, _ = code_bench(load_model(model_dir), str(d), 5, splits=("train",))
    cell = next(c for c in cells if c.kind == "defines")
    assert cell.n == 2 and cell.fts == 1.0
