"""--device and --dtype (issue 14, item 3): autocast on CUDA only, the memory float32 always, and
the same memory on CPU and GPU within the precision's tolerance (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from docqa.cli.main import cli
from docqa.errors import InputError
from docqa.model.io import load_model
from docqa.precision import precision

DEMO = "examples/demo"
CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device here")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_fp32_is_plain_float32_and_reduced_precision_is_refused_on_cpu():
    with precision("cpu", "fp32"):
        assert not torch.is_autocast_enabled("cpu")
    for dtype in ("bf16", "fp16"):
        with pytest.raises(InputError, match=f"--dtype {dtype} runs on CUDA only .*use --dtype fp32"):
            precision("cpu", dtype)
    with pytest.raises(InputError, match="dtype 'float8': choose one of fp32, bf16, fp16"):
        precision("cpu", "float8")


@pytest.mark.skipif(CUDA, reason="this machine has CUDA")
def test_cuda_without_a_device_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="no CUDA device here: use --device cpu"):
        precision("cuda", "bf16")
    r = run("ingest", DEMO, "--device", "cuda", "--db", tmp_path / "s.db")
    assert r.exit_code == 1 and "no CUDA device here" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("command", [("ingest", DEMO), ("ask", "demo", "q"), ("chat", "demo", "-m", "hi"),
                                     ("bench", "recall"), ("bench", "code", DEMO)])
def test_every_model_command_refuses_bf16_on_cpu_before_loading_anything(tmp_path, command, monkeypatch):
    monkeypatch.setenv("DOCQA_DB", str(tmp_path / "s.db"))
    r = run(*command, "--dtype", "bf16", "--model", tmp_path / "no-model-here")
    assert r.exit_code == 1, r.output
    assert "Error: --dtype bf16 runs on CUDA only (autocast); on cpu use --dtype fp32" in r.output
    assert not (tmp_path / "s.db").exists()


def test_fp32_on_cpu_ingests_and_answers(model_dir, tmp_path):
    db = tmp_path / "s.db"
    assert run("ingest", DEMO, "--corpus", "demo", "--model", model_dir, "--db", db, "--dtype", "fp32").exit_code == 0
    r = run("ask", "demo", "What is the pass key?", "--model", model_dir, "--db", db, "--max-tokens", "2",
            "--dtype", "fp32")
    assert r.exit_code == 0, r.output


def stream(lm, device, dtype):
    torch.manual_seed(0)
    tokens = torch.randint(0, 256, (2, 40 * lm.config.segment_len + 5)).to(device)
    with precision(device, dtype):
        return lm.model.ingest(tokens, lm.model.new_memory(2))


@needs_cuda
@pytest.mark.parametrize("dtype,tol", [("fp32", 1e-4), ("bf16", 5e-2), ("fp16", 2e-2)])
def test_gpu_memory_matches_cpu_within_the_precision_and_stays_float32(model_dir, dtype, tol):
    cpu = stream(load_model(model_dir, device="cpu"), "cpu", "fp32")
    gpu = stream(load_model(model_dir, device="cuda"), "cuda", dtype)
    assert gpu.segments == cpu.segments and torch.equal(gpu.pending.cpu(), cpu.pending)
    for a, b in zip(gpu.layers, cpu.layers):
        assert a.M.dtype == a.z.dtype == torch.float32
        assert a.M.device.type == "cuda"
        scale = b.M.abs().max()
        assert (a.M.cpu() - b.M).abs().max() <= tol * scale, dtype


@needs_cuda
def test_gpu_bf16_ingest_and_answer_through_the_cli(model_dir, tmp_path):
    db = tmp_path / "s.db"
    args = ("--model", model_dir, "--db", db, "--device", "cuda", "--dtype", "bf16")
    assert run("ingest", DEMO, "--corpus", "demo", *args).exit_code == 0
    r = run("ask", "demo", "What is the pass key?", "--max-tokens", "4", *args)
    assert r.exit_code == 0, r.output
