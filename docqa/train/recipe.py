"""The shipped model's recipe as one command: every phase, then the recall bench, in one go.

    python -m docqa.train.recipe OUT_DIR [--device cuda] [--quick]

Each phase is a `docqa train` run that starts from the previous phase's model; a phase that
already finished is skipped, so the command resumes after an interruption. At the end the
recall bench runs on the final model and its table and JSON land in OUT_DIR. `--quick` runs
every phase for a few steps on the test preset: the CPU check of the whole pipeline.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from docqa.bench.recall import facts_curve, format_table, passkey_table, to_json
from docqa.model.io import load_model
from docqa.train.loop import TrainConfig, checkpoint_dir, train

# (name, stop_at, TrainConfig fields). stop_at cuts a phase at the checkpoint the bench chose
# while keeping its learning-rate schedule (docs/TRAINING.md has the tables behind each choice).
PHASES: list[tuple[str, int | None, dict]] = [
    ("r2", 1300, dict(steps=4000, max_segments=8, history_fraction=0.0)),
    ("p3", 800, dict(steps=3000, batch=8, lr=5e-4, warmup=50, max_segments=32, start_max_segments=8,
                     curriculum_steps=1000)),
    ("p4", 800, dict(steps=2000, batch=4, lr=5e-4, warmup=50, max_segments=64, start_max_segments=32,
                     curriculum_steps=800, code_fraction=0.25)),
    ("p5", 350, dict(steps=600, batch=4, lr=3e-4, warmup=30, min_segments=8, max_segments=128,
                     start_max_segments=64, curriculum_steps=300, code_fraction=0.25, save_every=50)),
]

QUICK = dict(preset="small", batch=2, steps=4, warmup=1, save_every=2, eval_every=0,
             min_segments=3, start_max_segments=3, max_segments=4, curriculum_steps=2)


def run_recipe(out: Path, device: str = "cpu", quick: bool = False, lengths: list[int] | None = None,
               n: int = 10, on_log=None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    previous: Path | None = None
    for name, stop_at, fields in PHASES:
        run = out / name
        cfg = {**fields, **(QUICK if quick else {}), "device": device}
        if previous is not None:
            cfg["init_from"] = str(previous)
        stop = None if quick else stop_at
        ckpt = checkpoint_dir(run)
        finished = ckpt is not None and json.loads((ckpt / "state.json").read_text())["step"] >= (stop or cfg["steps"])
        if not finished:
            train(run, None if ckpt is not None else TrainConfig.from_dict(cfg), on_log=on_log, stop_at=stop)
        previous = checkpoint_dir(run) / "model"
    lm = load_model(previous, device=device)
    lengths = lengths or ([256] if quick else [1024, 4096, 16384])
    cells = passkey_table(lm, lengths, ["start", "middle", "end"], 2 if quick else n)
    cells += facts_curve(lm, [1, 2] if quick else [1, 2, 4, 8, 16], 512 if quick else 2048, 2 if quick else n)
    (out / "bench.md").write_text(f"model {lm.name}\n\n{format_table(cells)}\n")
    result = {"model": lm.name, "model_dir": str(previous), "phases": [p[0] for p in PHASES],
              "cells": to_json(cells)}
    (out / "bench.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description="Train the default model's recipe, then bench it.")
    ap.add_argument("out", type=Path)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--quick", action="store_true", help="a few steps per phase: the CPU check")
    ap.add_argument("--lengths", default=None, help="bench lengths, e.g. 1024,16384,262144,1048576")
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")] if args.lengths else None
    result = run_recipe(args.out, args.device, args.quick, lengths, args.n)
    print((args.out / "bench.md").read_text())
    print(f"model: {result['model_dir']}")


if __name__ == "__main__":
    main()
