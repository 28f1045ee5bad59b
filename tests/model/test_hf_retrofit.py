"""The retrofit script (python -m docqa.retrofit), CPU-checked with a tiny checkpoint."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")

from docqa.model.io import load_model  # noqa: E402
from docqa.retrofit import main  # noqa: E402

TINY = ["--segment-len", "64", "--device", "cpu", "--lengths", "256", "--n", "1", "--set", "batch=1",
        "--set", "min_segments=3", "--set", "max_segments=3", "--set", "save_every=1"]


def test_convert_train_bench_then_resume(hf_checkpoint, tmp_path, capsys):
    out = tmp_path / "retro"
    main([str(hf_checkpoint("qwen2")), str(out), "--steps", "2", *TINY])
    first = json.loads((out / "retrofit.json").read_text())
    assert first["train_steps"] == 2 and first["ingest_tokens_per_s"] > 0 and first["train_tokens_per_s"] > 0
    assert [(c["task"], c["length"], c["depth"]) for c in first["passkey"]] == [
        ("passkey", 256, "start"), ("passkey", 256, "middle")]
    assert first["trained_model"] != first["model"]  # the memory parameters moved
    assert "| passkey | 256 | start |" in capsys.readouterr().out
    converted_at = (out / "model" / "docqa.json").stat().st_mtime_ns

    main([str(hf_checkpoint("qwen2")), str(out), "--steps", "3", *TINY])  # resumes: no new conversion
    again = json.loads((out / "retrofit.json").read_text())
    assert again["train_steps"] == 3 and again["model"] == first["model"]
    assert (out / "model" / "docqa.json").stat().st_mtime_ns == converted_at
    assert load_model(out / "run" / "checkpoint" / "model").name == again["trained_model"]
