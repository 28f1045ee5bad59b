"""The small-scale retrofit (docqa.train.base_llama, docqa.retrofit_small), CPU-checked with a
tiny config on a few texts made here."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")

from safetensors.torch import load_file  # noqa: E402

from docqa.model.hf import convert  # noqa: E402
from docqa.model.io import load_model  # noqa: E402
from docqa.train import base_llama  # noqa: E402
from docqa.train.corpus import Text  # noqa: E402
from docqa.train.evaluate import in_segment_loss  # noqa: E402

# Every 4th text is held out (TINY's heldout_every): the ones with "zebra" in them.
TEXTS = [Text("prose", "man", f"t{i}", (f"zebra crossing number {i}. " if i % 4 == 3 else
                                         f"The river flows past mill {i}, slowly. ") * 40) for i in range(8)]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    mp = pytest.MonkeyPatch()
    mp.setattr(base_llama, "load_texts", lambda max_files: TEXTS)  # no minutes of reading /usr/share
    state = base_llama.train_base(out, base_llama.BaseConfig(**base_llama.TINY))
    mp.undo()
    return out, state


def test_base_checkpoint_loads_with_transformers(base):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, state = base
    assert state["step"] == base_llama.TINY["steps"] and state["tokens"] == 3 * 2 * 128
    lm = AutoModelForCausalLM.from_pretrained(out / "base", local_files_only=True)
    assert type(lm).__name__ == "LlamaForCausalLM" and lm.config.max_position_embeddings == 128
    assert sorted(p.name for p in (out / "base").glob("*.safetensors")) == ["model.safetensors"]
    tok = AutoTokenizer.from_pretrained(out / "base", local_files_only=True)
    assert tok.decode(tok("def f(x): return 42")["input_ids"]) == "def f(x): return 42"
    assert tok.eos_token == "<|end|>" and tok.convert_tokens_to_ids("<|end|>") == lm.config.eos_token_id


def test_heldout_text_is_never_trained_on(base):
    from docqa.model.tokenizer import load_tokenizer

    out, _ = base
    tok = load_tokenizer(base_llama.DEFAULT_TOKENIZER)
    held = tok.decode(load_file(str(out / "heldout.safetensors"))["tokens"].tolist())
    pools = load_file(str(out / "run" / "filler.safetensors"))
    assert "zebra" in held and "river" not in held
    assert all("zebra" not in tok.decode(v.tolist()) for v in pools.values())


def test_converted_memory_off_is_the_base_model(base, tmp_path):
    """Memory off, each segment read alone: the converted model's logits and in-segment loss are
    the transformers checkpoint's on segment-long windows."""
    from transformers import AutoModelForCausalLM

    out, _ = base
    convert(out / "base", tmp_path / "model", segment_len=32)
    lm = load_model(tmp_path / "model")
    plain = AutoModelForCausalLM.from_pretrained(out / "base", local_files_only=True).eval()
    tokens = load_file(str(out / "heldout.safetensors"))["tokens"][:96]
    with torch.no_grad():
        logits, _ = lm.model(tokens.long()[None], use_memory=False)
        for i in range(0, 96, 32):
            want = plain(tokens[i:i + 32].long()[None]).logits
            torch.testing.assert_close(logits[:, i:i + 32], want, atol=1e-5, rtol=1e-5)
    assert in_segment_loss(lm.model, tokens, use_memory=False) == pytest.approx(
        base_llama.window_loss(plain, tokens, 32), abs=1e-5)
    assert in_segment_loss(lm.model, tokens) != in_segment_loss(lm.model, tokens, use_memory=False)


def test_resume_lengthens_the_run(base, tmp_path):
    import shutil

    out, state = base
    copy = tmp_path / "small"
    shutil.copytree(out, copy)
    again = base_llama.train_base(copy, base_llama.BaseConfig(**{**base_llama.TINY, "steps": 4}))
    assert again["step"] == 4 and again["tokens"] == state["tokens"] + 2 * 128
    steps = [json.loads(line)["step"] for line in (copy / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_in_context_passkey_runs_once_per_save(tmp_path, monkeypatch):
    """The last step is also a save: its probe is the one the summary reports, not a second run."""
    calls = []
    real = base_llama.in_context_passkey

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(base_llama, "load_texts", lambda max_files: TEXTS)
    monkeypatch.setattr(base_llama, "in_context_passkey", counted)
    logged = []
    state = base_llama.train_base(tmp_path / "small", base_llama.BaseConfig(**{**base_llama.TINY, "steps": 4}),
                                  on_log=logged.append)
    probes = [e["in_context_passkey"] for e in logged if "in_context_passkey" in e]
    assert len(probes) == 2 == len(calls)  # saves at steps 2 and 4
    assert state["in_context_passkey"] == probes[-1]


def test_driver_end_to_end_quick(base, tmp_path):
    """Every phase of docqa.retrofit_small on the tiny base (already trained: skipped)."""
    import shutil

    from docqa.retrofit_small import main

    out, _ = base
    copy = tmp_path / "small"
    shutil.copytree(out, copy)
    main([str(copy), "--quick", "--steps", "2", "--lengths", "128", "--n", "1"])
    s = json.loads((copy / "small.json").read_text())
    assert s["retrofit"]["train_steps"] == 2 and s["segment_len"] == 32
    assert s["losses"]["base, memory off"] == pytest.approx(s["transformers_window_loss"], abs=1e-4)
    assert [(c["length"], c["depth"]) for c in s["retrofit"]["passkey"]] == [(128, "start"), (128, "middle")]


def test_write_penalty_reaches_a_converted_models_branches(converted, tmp_path):
    """The retrofit's write penalty is on the memory branches' write strength, as on docqa's own
    attention layers: the log reports it and the strength falls below a run without it."""
    from docqa.train.loop import TrainConfig, train

    runs = {}
    for name, penalty in (("free", 0.0), ("sparse", 5.0)):
        tc = TrainConfig(init_from=str(converted("llama", 64)), batch=2, steps=6, warmup=1, lr=3e-2,
                         min_segments=3, max_segments=3, start_max_segments=3, eval_every=0, write_penalty=penalty)
        train(tmp_path / name, tc)
        runs[name] = [json.loads(line)["write"] for line in (tmp_path / name / "log.jsonl").read_text().splitlines()]
    assert runs["free"][0] == pytest.approx(0.5, abs=1e-3)  # zero weights: sigmoid(0) on every token
    assert runs["sparse"][-1] < runs["free"][-1] - 0.05


def test_copy_document_repeats_a_span_and_marks_only_its_predictable_tokens():
    import random

    window = list(range(1000, 1256))
    for seed in range(50):
        tokens, answers = base_llama.copy_document(random.Random(seed), window)
        assert len(tokens) == len(answers) == 256
        marked = [i for i, a in enumerate(answers) if a]
        dst, end = marked[0] - 1, marked[-1] + 1  # the repeat: its first token is not an answer
        span = tokens[dst:end]
        src = window.index(span[0])
        assert span == window[src:src + len(span)] and src + len(span) + 8 <= dst  # an earlier span
        assert marked == list(range(dst + 1, end)) and 8 <= len(span) <= 256 // 6
        assert tokens[:dst] == window[:dst] and tokens[end:] == window[end:]  # the rest is the text
