"""The retrofit recipe proven end to end at small scale, on CPU (issue 11, item 5).

    python -m docqa.retrofit_small OUT [--base-minutes 27] [--steps 5400] [--minutes 80] [--n 20] [--quick]

Phases, each skipped when its output exists (a rerun resumes where it stopped):
1. OUT/base: a full-attention LlamaForCausalLM trained from scratch with transformers
   (docqa.train.base_llama): the stand-in for a pretrained checkpoint;
2. OUT/retro: `docqa convert` (segments of 128 tokens, so 4K tokens are 32 segments),
   `docqa train --init-from` on the memory branches and attention projections, and the passkey
   bench with knockout (docqa.retrofit) at 4K tokens;
3. the in-segment next-token loss on held-out text (OUT/heldout.safetensors, never trained
   on): the base checkpoint (memory off), the fresh conversion and the trained model (memory on).

Writes OUT/small.json and OUT/small.md (the tables of docs/retrofit.md). It drives training
and the bench, so it sits above both, beside docqa/retrofit.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from safetensors.torch import load_file

from docqa.model.io import load_model
from docqa.retrofit import retrofit
from docqa.threads import set_threads
from docqa.train.base_llama import TINY, BaseConfig, train_base, window_loss
from docqa.train.evaluate import in_segment_loss
from docqa.train.loop import checkpoint_dir

# The stand-in for a pretrained model, in two phases (docs/retrofit.md): next-token loss on the
# text (with a quarter in-context question documents), then half question documents with the
# answers' loss added, until it answers a passkey in its context as a pretrained LLM does. (A
# quarter of copy documents in both phases, run r6, gave a base that copies spans better and a
# memory phase that learned nothing in 2,700 steps: docs/retrofit.md.)
BASE_PHASES: list[tuple[str, dict]] = [
    ("", {}),
    ("qa", dict(qa_fraction=0.5, answer_weight=1.0, steps=600, lr=1.5e-3, warmup=20)),
]
SEGMENT_LEN = 128  # a needle at the start of 4K tokens is 31 segments back, in the middle 16
# The memory's training (TrainConfig fields; docs/retrofit.md says why each).
RETROFIT_SET = dict(
    train_attention=True,  # the memory reads and writes with the attention's own q, k, v: let them adapt
    task_mix={"passkey": 3, "needle": 1}, text="corpus", code_fraction=0.3, prose_fraction=0.3,
    text_ramp_steps=1, batch=4, lr=3e-3, warmup=20,
    gate_lr=5e-2,  # the gate starts at -6 (the base model's output); Adam moves it ~gate_lr a step
    min_segments=2, start_max_segments=3, max_segments=12, curriculum_steps=400,
    lm_sample=0.1, lm_weight=0.05,  # some next-token loss on the text keeps the base model's skill
    history_fraction=0.5, eval_every=0, save_every=50)

QUICK_SET = dict(batch=1, min_segments=2, start_max_segments=2, max_segments=3, curriculum_steps=1,
                 save_every=1)


def train_bases(out: Path, minutes: float | None, quick: bool, on_log=None) -> Path:
    """Every base phase not yet done; returns the last phase's checkpoint."""
    previous: Path | None = None
    for name, fields in BASE_PHASES:
        phase = out / name if name else out
        if not (phase / "base" / "config.json").is_file():
            if previous is not None:  # the first phase's text and held-out split
                (phase / "run").mkdir(parents=True, exist_ok=True)
                for f in ("run/filler.safetensors", "heldout.safetensors"):
                    if not (phase / f).exists():
                        shutil.copyfile(out / f, phase / f)
            extra = {"init_from": str(previous)} if previous is not None else {}
            train_base(phase, BaseConfig(**{**fields, **(TINY if quick else {}), **extra}), minutes, on_log=on_log)
        previous = phase / "base"
    return previous


def heldout_tokens(out: Path, limit: int):
    tokens = load_file(str(out / "heldout.safetensors"))["tokens"]
    return tokens[:limit]


def loss_table(losses: dict[str, float]) -> str:
    base = losses["base, memory off"]
    rows = ["| model | in-segment loss (nats/token) | vs base |", "|---|---|---|"]
    for name, v in losses.items():
        rows.append(f"| {name} | {v:.4f} | {100 * (v / base - 1):+.2f}% |")
    return "\n".join(rows)


def run(out: Path, base_minutes: float | None, steps: int, minutes: float | None, lengths: list[int], n: int,
        quick: bool = False, heldout_limit: int = 65536, on_log=None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    set_threads(1)  # the machine this was proven on is a shared 2-core CPU
    checkpoint = train_bases(out, base_minutes, quick, on_log)
    segment_len = 32 if quick else SEGMENT_LEN
    retro = out / "retro"
    pools = retro / "run" / "filler.safetensors"
    if checkpoint_dir(retro / "run") is None and not pools.exists():  # the memory trains on the base's text
        pools.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "run" / "filler.safetensors", pools)
    result = retrofit(checkpoint, retro, segment_len, steps, "cpu", lengths, n,
                      {**RETROFIT_SET, **(QUICK_SET if quick else {})}, minutes=minutes)
    tokens = heldout_tokens(out, heldout_limit)
    converted = load_model(retro / "model")
    trained = load_model(retro / "run" / "checkpoint" / "model")
    losses = {"base, memory off": in_segment_loss(converted.model, tokens, use_memory=False),
              "converted, memory on (untrained)": in_segment_loss(converted.model, tokens),
              "retrofitted, memory on": in_segment_loss(trained.model, tokens),
              "retrofitted, memory off": in_segment_loss(trained.model, tokens, use_memory=False)}
    # the same number straight from transformers: the plain checkpoint on segment-long windows
    plain = window_loss(converted.model.lm, tokens, segment_len)
    keys = ("parameters", "step", "tokens", "elapsed", "tokens_per_s", "heldout_loss", "in_context_passkey")
    summary = {"base": [{k: v for k, v in json.loads((p.parent / "base.json").read_text()).items() if k in keys}
                        for p in [out / n / "base" if n else out / "base" for n, _ in BASE_PHASES]],
               "heldout_tokens": int(tokens.numel()), "segment_len": segment_len,
               "losses": {k: round(v, 4) for k, v in losses.items()}, "transformers_window_loss": round(plain, 4),
               "retrofit": {k: v for k, v in result.items() if k not in ("table", "train_config")},
               "train_config": result["train_config"]}
    md = (f"base phases: {summary['base']}\n\n{result['table']}\n\n{loss_table(losses)}\n\n"
          f"transformers on {segment_len}-token windows: {plain:.4f}\n")
    (out / "small.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "small.md").write_text(md)
    return summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train a small Llama, retrofit it with memory, bench it (CPU).")
    ap.add_argument("out", type=Path)
    ap.add_argument("--base-minutes", type=float, default=None, help="cap on each base phase's training")
    ap.add_argument("--steps", type=int, default=5400, help="memory-training steps (the schedule's length; r7 of docs/retrofit.md)")
    ap.add_argument("--minutes", type=float, default=None, help="cap on the memory's training")
    ap.add_argument("--lengths", default="4096", help="passkey bench lengths in tokens")
    ap.add_argument("--n", type=int, default=20, help="trials per bench cell")
    ap.add_argument("--quick", action="store_true", help="tiny models, a few steps: the CPU check")
    a = ap.parse_args(argv)
    log = (lambda e: print(json.dumps(e), file=sys.stderr) if e["step"] % 50 == 0 else None)
    run(a.out, a.base_minutes, a.steps, a.minutes, [int(x) for x in a.lengths.split(",")], a.n, a.quick,
        on_log=log)
    print((a.out / "small.md").read_text())


if __name__ == "__main__":
    main()
