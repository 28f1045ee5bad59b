"""benchmarks/bench_model.py, CPU-checked (issue 14, item 5): its FLOP count agrees with torch's
own count of the matrix products an ingest runs, and the script prints its four tables
(the GPU table included, on the CPU). No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from docqa.model.config import ModelConfig
from docqa.model.transformer import InfiniTransformer

from by_path import ROOT, benchmark

SCRIPT = ROOT / "benchmarks" / "bench_model.py"


def bench_module():
    return benchmark("bench_model")


@pytest.mark.parametrize("overrides", [dict(), dict(n_head=2, segment_len=16),
                                       dict(feature_map="elu1", update="delta", write_strength=False)])
@pytest.mark.parametrize("use_memory", [False, True])
def test_flop_count_matches_torchs_count_of_the_matrix_products(overrides, use_memory):
    """torch's FlopCounterMode counts every mm/bmm of a real ingest; it counts causal attention
    in full (S keys, not (S+1)/2) and no triangular solve, so those two are converted."""
    bench = bench_module()
    cfg = ModelConfig.from_name("test", **overrides)
    model = InfiniTransformer(cfg).eval()
    T = cfg.segment_len * 6
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.ingest(torch.randint(0, 256, (1, T)), model.new_memory(1), use_memory=use_memory)
    parts = bench.flop_parts(cfg, use_memory)
    S = cfg.segment_len
    expected = parts["dense"] + parts["attention"] * 2 * S / (S + 1) + parts["memory"]
    assert counter.get_total_flops() == pytest.approx(expected * T, rel=1e-9)
    assert bench.flops_per_token(cfg, use_memory) == pytest.approx(sum(parts.values()))
    assert (parts["solve"] > 0) == (use_memory and cfg.update == "token_delta")


def test_the_script_prints_its_tables_on_cpu():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--preset", "test", "--tokens", "512", "--repeats", "1", "--streams", "4",
         "--tables", "rules,batched,calls,flops", "--flops-presets", "test", "--peak-tflops", "1", "--clock", "cpu"],
        capture_output=True, text=True, check=True, timeout=300).stdout
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    assert sum("token_delta" in r for r in rows) == 2 and sum("| linear |" in r for r in rows) == 2
    assert [r.split(" |")[0] for r in rows if r.startswith(("| sequential", "| batched"))] == [
        "| sequential", "| batched (ingest_streams)", "| batched (lockstep (B, T))"]
    assert "| 4 streams of 128 tokens, documents of 128 |" in out
    S = ModelConfig.from_name("test").segment_len
    calls = [r.split(" | ")[:3] for r in rows if re.match(r"\| [14] \| (1|2|4|16) \|", r)]
    assert calls == [[f"| {b}", f"{n}", f"{b * n * S:,}"] for b, n in
                     [(1, 1), (1, 4), (1, 16), (4, 1), (4, 2), (4, 4), (4, 16)]], calls
    flops = [r for r in rows if r.startswith("| test |")]
    assert [r.split("|")[3].strip() for r in flops] == ["off", "on"]
    assert all(re.search(r"\| [\d.e-]+ \| [\d.]+% \|$", r) for r in flops), flops
    assert "device CPU, dtype fp32, bf16 peak 1 TFLOP/s" in out


def test_the_script_refuses_what_it_cannot_measure():
    for args, message in [(["--tables", "speed"], "--tables speed: choose from rules, batched, calls, flops"),
                          (["--dtype", "bf16"], "--dtype bf16 runs on CUDA only")]:
        done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and message in done.stderr, done.stderr
