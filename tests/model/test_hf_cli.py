"""`docqa convert`, then ingest, ask and bench with --model on the converted directory: the real
CLI, a real store, tiny checkpoints built in the test."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")

from docqa.cli.main import cli  # noqa: E402
from docqa.store import Store  # noqa: E402


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def folder(root):
    root.mkdir()
    for i in range(4):
        (root / f"note{i}.txt").write_text(f"Note {i}. The pass key is {73914 + i}. " + "The grass is green. " * 6)
    return root


def test_convert_then_ingest_ask_and_bench_with_the_converted_model(hf_checkpoint, tmp_path):
    out, db = tmp_path / "qwen", tmp_path / "s.db"
    converted = json.loads(run("convert", hf_checkpoint("qwen2"), out, "--segment-len", "16", "--json").stdout)
    assert converted["segment_len"] == 16 and (out / "docqa.json").is_file()
    assert json.loads((out / "docqa.json").read_text())["fingerprint"] == converted["fingerprint"]

    report = json.loads(run("ingest", folder(tmp_path / "src"), "--corpus", "c", "--db", db, "--model", out,
                            "--json").stdout)
    assert report["ingested"] == 4 and report["segments"] >= 4
    with Store(db) as s:
        memory = s.load_snapshot("c", model_fingerprint=converted["fingerprint"])
    assert memory.layers[0].M.shape == (1, 2, 8, 8)  # one memory per KV head: 2 KV heads of 8 dimensions
    assert any(layer.M.abs().max() > 0 for layer in memory.layers)

    answer = json.loads(run("ask", "c", "What is the pass key?", "--db", db, "--model", out, "--json",
                            "--max-tokens", "4").stdout)
    assert answer["model"].endswith("@" + converted["fingerprint"][:12]) and answer["answer_tokens"] <= 4
    assert answer["snapshot_id"] == report["snapshot_id"]

    bench = json.loads(run("bench", "recall", "--model", out, "--lengths", "256", "--depths", "start", "--n", "1",
                           "--facts", "1", "--facts-length", "256", "--json").stdout)
    assert bench["fingerprint"] == converted["fingerprint"] and bench["cells"]

    pytest.importorskip("langchain_core")
    from docqa.integrations.langchain import ChatDocQA

    message = ChatDocQA(corpus="c", db=str(db), model=str(out), max_tokens=3).invoke("What is the pass key?")
    assert message.response_metadata["model_name"] == answer["model"]


def test_a_snapshot_from_another_model_is_refused(hf_checkpoint, converted, tmp_path):
    db = tmp_path / "s.db"
    run("ingest", folder(tmp_path / "src"), "--corpus", "c", "--db", db, "--model", converted("llama", 8))
    other = run("ask", "c", "What is the pass key?", "--db", db, "--model", converted("llama", 16), ok=False)
    assert other.exit_code == 1
    assert "was built with model" in other.output and "use the model it was built with" in other.output
    docqa_own = run("ask", "c", "What is the pass key?", "--db", db, ok=False)  # the shipped model
    assert docqa_own.exit_code == 1 and "was built with model" in docqa_own.output


def test_unconverted_and_unsupported_checkpoints_say_what_to_do(hf_checkpoint, tmp_path):
    src = hf_checkpoint("llama")
    r = run("ingest", folder(tmp_path / "src"), "--db", tmp_path / "s.db", "--model", src, ok=False)
    assert r.exit_code == 1 and "is a Hugging Face checkpoint" in r.output and "docqa convert" in r.output

    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    (gpt2 / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}))
    r = run("convert", gpt2, tmp_path / "out", ok=False)
    assert r.exit_code == 1
    assert "holds a GPT2LMHeadModel; docqa converts LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, " \
           "Qwen3ForCausalLM" in r.output
    assert not (tmp_path / "out").exists()


def test_convert_refuses_a_segment_past_the_trained_positions_and_a_used_directory(hf_checkpoint, tmp_path):
    src = hf_checkpoint("llama")
    r = run("convert", src, tmp_path / "out", "--segment-len", "4096", ok=False)
    assert r.exit_code == 1 and "exceeds the 512 positions" in r.output
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    r = run("convert", src, tmp_path / "used", "--segment-len", "8", ok=False)
    assert r.exit_code == 1 and "exists and is not empty" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]  # no half-written directory left


def test_convert_refuses_a_malformed_tokenizer_before_loading_weights(hf_checkpoint, tmp_path):
    import shutil

    src = shutil.copytree(hf_checkpoint("llama"), tmp_path / "src")
    (src / "tokenizer.json").write_text("{not json")
    r = run("convert", src, tmp_path / "out", "--segment-len", "8", ok=False)
    assert r.exit_code == 1 and "cannot read tokenizer" in r.output
