"""Retrofit a local checkpoint with a compressive memory, train the memory, bench its recall.

    python -m docqa.retrofit ~/models/Qwen2.5-0.5B runs/qwen --device cuda --steps 2000

Phases, each skipped when its output exists (so a rerun resumes): `docqa convert` into
OUT/model; continual training of the memory branches (`docqa train --init-from`, checkpoint
frozen) in OUT/run; the passkey bench, with knockout, on the trained model. Reports ingest and
training tokens/s and the bench in OUT/retrofit.json (and on stdout). The GPU check of issue 11:
a 0.5B-1B checkpoint on one GPU. `--set KEY=VALUE` passes TrainConfig fields (a new run only).
It drives both training and the benches, so it sits above both, beside docqa/recipe.py.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from docqa.bench.recall import format_table, passkey_table, to_json
from docqa.model.hf import convert
from docqa.model.io import load_model
from docqa.train.loop import TrainConfig, checkpoint_dir, train


def ingest_rate(lm, segments: int = 8, seed: int = 0) -> float:
    """Tokens/s of `ingest` on one stream of random tokens (memory on, no gradients)."""
    S = lm.config.segment_len
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, lm.tokenizer.vocab_size, (1, segments * S), generator=g).to(lm.model.device)
    lm.model.ingest(tokens[:, :S], lm.model.new_memory(1))  # warm-up: kernels, allocator
    if lm.model.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    lm.model.ingest(tokens, lm.model.new_memory(1))
    if lm.model.device.type == "cuda":
        torch.cuda.synchronize()
    return tokens.shape[1] / (time.perf_counter() - t0)


def retrofit(checkpoint: Path, out: Path, segment_len: int, steps: int, device: str, lengths: list[int],
             n: int, overrides: dict, minutes: float | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    model_dir, run = out / "model", out / "run"
    if not (model_dir / "docqa.json").is_file():
        convert(checkpoint, model_dir, segment_len=segment_len)
    lm = load_model(model_dir, device=device)
    result = {"checkpoint": str(checkpoint), "model": lm.name, "segment_len": lm.config.segment_len,
              "device": device, "ingest_tokens_per_s": round(ingest_rate(lm))}
    del lm
    tc = None if checkpoint_dir(run) else TrainConfig(**{"init_from": str(model_dir), "device": device,
                                                          "steps": steps, **overrides})
    state = train(run, tc if tc is not None else TrainConfig(steps=steps), minutes=minutes, device=device)
    result |= {"train_steps": state["step"], "train_tokens": state["tokens"],
               "train_tokens_per_s": round(state["tokens"] / max(state["elapsed"], 1e-9)),
               "train_config": state["train_config"]}
    trained = load_model(run / "checkpoint" / "model", device=device)
    cells = passkey_table(trained, lengths, ["start", "middle"], n)
    result |= {"trained_model": trained.name, "passkey": to_json(cells), "table": format_table(cells)}
    (out / "retrofit.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _sets(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Convert a checkpoint, train its memory, bench its recall.")
    ap.add_argument("checkpoint", type=Path, help="local transformers checkpoint directory")
    ap.add_argument("out", type=Path, help="output directory (model/, run/, retrofit.json)")
    ap.add_argument("--segment-len", type=int, default=2048, help="tokens per segment")
    ap.add_argument("--steps", type=int, default=2000, help="training steps in total")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda")
    ap.add_argument("--lengths", default="4096,16384", help="passkey bench lengths in tokens")
    ap.add_argument("--n", type=int, default=10, help="trials per bench cell")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="a TrainConfig field for a new run, e.g. --set batch=4")
    a = ap.parse_args(argv)
    overrides = {"batch": 4, "eval_every": 0, "save_every": 200, **_sets(a.sets)}
    result = retrofit(a.checkpoint, a.out, a.segment_len, a.steps, a.device,
                      [int(x) for x in a.lengths.split(",")], a.n, overrides)
    print(result.pop("table"))
    print(json.dumps({k: v for k, v in result.items() if k not in ("passkey", "train_config")}, indent=2))


if __name__ == "__main__":
    main()
