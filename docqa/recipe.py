"""The shipped model's recipe as one command: every phase, then the recall bench, in one go.

    python -m docqa.recipe OUT_DIR [--recipe bpe|byte] [--until PHASE] [--device cuda] [--quick]
                           [--haystack EVAL_DIR]

It drives both training and the benches, so it sits above both (until issue 12 it was
docqa.train.recipe, and made training import the benches).

`bpe` (the shipped default since December: phase c3, and since the tenth session c3 averaged
with phase c22; the candidates around it, checkpoints/bpe-c2 to bpe-c4, bpe-c13 and bpe-c22)
first trains the BPE tokenizer on the training text (docqa.train.vocab; `apt-get install
python3-doc` adds the Python documentation to that text, man pages and /usr/share/doc come with
Debian), then trains on questions about real text;
`byte` replays the byte-level passkey model of November (the default until December,
checkpoints/byte-p5). Phases run up to the one the default model came from (SHIPPED), or to
`--until PHASE`, e.g. `--until c4` or `--until w1` for the candidates after it. Each phase is a
`docqa train` run that starts from the previous phase's model (or the one STARTS_FROM names); a
phase that already finished is skipped, so the command resumes after an interruption. The shipped
phase's weights are then averaged with those of the phase SHIPPED_SOUP names (trained too if it is
not yet; OUT_DIR/soup), and that model gets the write gate it ships with (SHIPPED_GATE;
OUT_DIR/shipped). At the end
the recall bench runs on the final model (with `--haystack`, also on real text the model never
saw) and its tables and JSON land in OUT_DIR. `--quick` runs every phase for a few steps on the test preset: the CPU check.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from docqa.bench.haystack import Haystack, haystack_bench
from docqa.bench.haystack import format_table as haystack_table
from docqa.bench.haystack import to_json as haystack_json
from docqa.bench.recall import facts_curve, format_table, passkey_table, to_json
from docqa.errors import ConfigError
from docqa.model.io import load_model, regate_model, soup_models
from docqa.train.loop import TrainConfig, checkpoint_dir, train
from docqa.train.vocab import train_vocab

# (name, stop_at, TrainConfig fields). stop_at cuts a phase at the checkpoint the bench chose
# while keeping its learning-rate schedule (docs/TRAINING.md has the tables behind each choice).
BYTE_PHASES: list[tuple[str, int | None, dict]] = [
    ("r2", 1300, dict(steps=4000, max_segments=8, history_fraction=0.0)),
    ("p3", 800, dict(steps=3000, batch=8, lr=5e-4, warmup=50, max_segments=32, start_max_segments=8,
                     curriculum_steps=1000)),
    ("p4", 800, dict(steps=2000, batch=4, lr=5e-4, warmup=50, max_segments=64, start_max_segments=32,
                     curriculum_steps=800, code_fraction=0.25)),
    ("p5", 350, dict(steps=600, batch=4, lr=3e-4, warmup=30, min_segments=8, max_segments=128,
                     start_max_segments=64, curriculum_steps=300, code_fraction=0.25, save_every=50)),
]

# Questions about text (docs/TRAINING.md, December): the candidates checkpoints/bpe-c1 (c1 at step
# 200) and checkpoints/bpe-c2. Subword tokens with numbers in groups of three digits, 2 heads of 64,
# a 128-token segment, a short conv. s1 learns key-addressed recall of needles and named facts on
# the simple filler (run e3); r1 moves to real text with documents still short (p3); r2 lengthens
# them to 16 segments with the history bank on a quarter of the steps (p4, checkpoints/bpe-p4). Each
# stop_at is the step the bench chose.
_COMMON = dict(lm_sample=0.1, lm_weight=0.1, eval_every=0, save_every=50)
_REAL = dict(text="corpus", code_fraction=0.4, prose_fraction=0.5)
# The long-document phases, each c2's settings with what it changes (comments at BPE_PHASES).
_C2 = dict(_COMMON, **_REAL, task_mix={"facts": 2, "needle": 1, "track": 0.5, "passkey": 1},
           keep_every=50, save_every=25, text_ramp_steps=1, steps=800, batch=8, min_segments=6,
           start_max_segments=24, max_segments=48, curriculum_steps=300, lr=1.5e-3, warmup=20,
           max_facts=16, questions=4, write_penalty=1.0, history_fraction=0.5, history_advance=4,
           history_reset=0.01, question_cut=0.75, open_subjects=0.5)
_C3 = dict(_C2, steps=400, min_segments=8, start_max_segments=48, max_segments=80, curriculum_steps=150,
           lr=1e-3, warmup=10, history_fraction=0.6, history_advance=6)
_C4 = dict(_C3, start_max_segments=64, max_segments=96, curriculum_steps=100, write_penalty=2.0,
           history_advance=12)
_W1 = dict(_C3, steps=300, start_max_segments=80, curriculum_steps=1, model_overrides={"write_threshold": 0.5})
_C22 = dict(_C3, open_frames=0.25, composed_frames=0.67, seed=26)
BPE_PHASES: list[tuple[str, int | None, dict]] = [
    ("s1", 800, dict(_COMMON, task_mix={"needle": 1, "facts": 1}, keep_every=250,
                     model_overrides={"segment_len": 128, "short_conv": 4, "n_head": 2},
                     steps=2000, batch=16, min_segments=2, start_max_segments=3, max_segments=4,
                     curriculum_steps=500, lr=6e-3, warmup=100, max_facts=4, history_fraction=0.0)),
    ("r1", 500, dict(_COMMON, **_REAL, task_mix={"needle": 1, "facts": 1, "track": 1}, keep_every=100,
                     text_ramp_steps=300, steps=3000, batch=16, min_segments=2, start_max_segments=3,
                     max_segments=4, curriculum_steps=300, lr=4e-3, warmup=50, max_facts=8,
                     history_fraction=0.0)),
    ("r2", 400, dict(_COMMON, **_REAL, task_mix={"needle": 1, "facts": 1, "track": 1, "passkey": 0.25},
                     keep_every=100, text_ramp_steps=1, steps=1000, batch=16, min_segments=3,
                     start_max_segments=4, max_segments=16, curriculum_steps=300, lr=3e-3, warmup=20,
                     max_facts=8, history_fraction=0.25)),
    # f1 asks four named facts per document (questions=4, as MQAR asks every key); c1 lengthens
    # the documents again with the history bank and a write penalty, so that few tokens write and
    # a stored fact survives more of the stream (docs/TRAINING.md, December, second session).
    ("f1", 600, dict(_COMMON, **_REAL, task_mix={"facts": 3, "needle": 1, "passkey": 0.25}, keep_every=100,
                     text_ramp_steps=1, steps=1500, batch=16, min_segments=3, start_max_segments=4,
                     max_segments=8, curriculum_steps=300, lr=3e-3, warmup=20, max_facts=16, questions=4,
                     history_fraction=0.0)),
    ("c1", 500, dict(_COMMON, **_REAL, task_mix={"facts": 2, "needle": 1, "track": 0.5, "passkey": 0.5},
                     keep_every=50, text_ramp_steps=1, steps=1000, batch=8, min_segments=4, start_max_segments=8,
                     max_segments=24, curriculum_steps=200, lr=2e-3, warmup=20, max_facts=16, questions=4,
                     write_penalty=1.0, history_fraction=0.5)),
    # c2 (checkpoints/bpe-c2) doubles the documents to 48 segments and the history bank to ~400
    # segments, so 32K-token streams are in training; questions may start early in their segment
    # (question_cut), and half the subjects are open ones (open_subjects). The run itself turned
    # these on at steps 250, 300 and 400 (docs/TRAINING.md), so this phase is not its replay.
    ("c2", 500, _C2),
    # c3 (checkpoints/bpe-c3) lengthens the documents to 80 segments and ages the history bank to
    # ~600 segments (77K tokens), for the synthetic table's 32K and 64K rows; from c2 step 500,
    # every setting from its first step (docs/TRAINING.md, December, fourth session).
    ("c3", 350, _C3),
    # c4 (checkpoints/bpe-c4) ages the bank twice as far (~1,200 segments, 154K tokens), grows the
    # documents to 96 segments and doubles the write penalty, for the 64K and 128K rows. The run
    # started from c3 step 300, the recipe from c3's stop (350): a replay of the settings, not the run.
    ("c4", 100, _C4),
    # w1 (checkpoints/bpe-c13, run c13) drops every write whose strength is at most 0.5
    # (write_threshold), so the prose streamed after a fact no longer wears it away; from c3's stop,
    # c3's settings from the first step (docs/TRAINING.md, December, seventh session).
    ("w1", 150, _W1),
    # c22 (checkpoints/bpe-c22) is c3's phase again from c2, with a quarter of the training needles
    # in training-only fixed frames and half in composed ones (opener, determiner, link, closer), so
    # that a needle in wording never seen reads as one; it gains the held-out short rows and loses
    # the long ones (docs/TRAINING.md, December, ninth session). Shipped only inside the soup below.
    ("c22", 300, _C22),
]
RECIPES = {"bpe": BPE_PHASES, "byte": BYTE_PHASES}
# A phase starts from the model of the phase before it in its recipe, or from the phase named
# here: c4 and w1 both continue c3.
STARTS_FROM = {"w1": "c3", "c22": "c2"}
# The phase each recipe's shipped model stopped at: docqa/models/default is bpe's c3, step 350,
# averaged with c22 (SHIPPED_SOUP) under SHIPPED_GATE.
SHIPPED = {"bpe": "c3", "byte": "p5"}
# The write gate the shipped model runs with, set on the last phase's weights without training
# (docqa.model.io.regate_model): a write at or below 0.4 is dropped unless a token within 2 of it
# clears 0.4, so the prose after a fact no longer wears it away (docs/TRAINING.md, December,
# eighth session). Only the shipped phase gets it; `--until` another phase gives that phase as trained.
SHIPPED_GATE = {"bpe": {"write_threshold": 0.4, "write_window": 2}}
# The shipped weights are the shipped phase's averaged with another phase's that shares its parent
# (docqa.model.io.soup_models; this phase's share): c3 keeps the long rows, c22 reads held-out
# wordings, and their mean beats either on held-out phrasings (docs/TRAINING.md, December, tenth session).
SHIPPED_SOUP = {"bpe": ("c22", 0.7)}
PHASES = BPE_PHASES
VOCAB_SIZE = 8192

QUICK = dict(preset="small", batch=2, steps=4, warmup=1, save_every=2, eval_every=0,
             min_segments=3, start_max_segments=3, max_segments=4, curriculum_steps=2)


def phases_until(recipe: str, until: str | None = None) -> list[tuple[str, int | None, dict]]:
    """The phases that lead to `until` (default: the shipped model's phase), first to last: each
    one's predecessor in the list, or the phase STARTS_FROM names."""
    phases = RECIPES[recipe]
    names = [p[0] for p in phases]
    last = until or SHIPPED[recipe]
    if last not in names:
        raise ConfigError(f"recipe {recipe!r} has no phase {last!r}; its phases: {', '.join(names)}")
    chain, i = [], names.index(last)
    while i >= 0:
        chain.append(phases[i])
        i = names.index(STARTS_FROM[names[i]]) if names[i] in STARTS_FROM else i - 1
    return chain[::-1]


def _train_chain(out: Path, phases: list[tuple[str, int | None, dict]], overrides: dict, quick: bool,
                 on_log=None) -> Path:
    """Train each phase of the chain not yet finished, each from the one before; return the last
    phase's model. A phase already trained (by this chain or another sharing it) is skipped."""
    previous: Path | None = None
    for name, stop_at, fields in phases:
        run = out / name
        cfg = {**fields, **overrides}
        if previous is not None:
            cfg["init_from"] = str(previous)
        stop = None if quick else stop_at
        ckpt = checkpoint_dir(run)
        finished = ckpt is not None and json.loads((ckpt / "state.json").read_text())["step"] >= (stop or cfg["steps"])
        if not finished:
            train(run, None if ckpt is not None else TrainConfig.from_dict(cfg), on_log=on_log, stop_at=stop)
        previous = checkpoint_dir(run) / "model"
    return previous


def run_recipe(out: Path, device: str = "cpu", quick: bool = False, lengths: list[int] | None = None,
               n: int = 10, on_log=None, recipe: str = "bpe", haystack: list[str] | None = None,
               until: str | None = None) -> dict:
    phases = phases_until(recipe, until)
    out.mkdir(parents=True, exist_ok=True)
    extra: dict = {}
    if recipe == "bpe":
        tok_path = out / "tokenizer.json"
        if not tok_path.exists():
            train_vocab(tok_path, 600 if quick else VOCAB_SIZE, max_files=20 if quick else 1500)
        extra = {"tokenizer": str(tok_path)}
        if quick:  # the quick check leaves out the slow parts: the full text and the code modules
            extra |= {"text": "stdlib", "max_facts": 2, "task_mix": {"needle": 1, "facts": 1, "track": 1}}
    overrides = {**(QUICK if quick else {}), **extra, "device": device}
    previous = _train_chain(out, phases, overrides, quick, on_log)
    trained = [p[0] for p in phases]
    shipped = phases[-1][0] == SHIPPED[recipe]
    soup = SHIPPED_SOUP.get(recipe) if shipped else None
    if soup:
        other_phases = phases_until(recipe, soup[0])
        other = _train_chain(out, other_phases, overrides, quick, on_log)
        trained += [p[0] for p in other_phases if p[0] not in trained]
        soup_models(previous, other, soup[1], out / "soup")
        previous = out / "soup"
    gate = SHIPPED_GATE.get(recipe) if shipped else None
    if gate:
        regate_model(previous, out / "shipped", **gate)
        previous = out / "shipped"
    lm = load_model(previous, device=device)
    lengths = lengths or ([256] if quick else [1024, 4096, 16384])
    cells = passkey_table(lm, lengths, ["start", "middle", "end"], 2 if quick else n)
    cells += facts_curve(lm, [1, 2] if quick else [1, 2, 4, 8, 16], 512 if quick else 2048, 2 if quick else n)
    md = f"model {lm.name}\n\n{format_table(cells)}\n"
    result = {"model": lm.name, "model_dir": str(previous), "phases": trained, "gate": gate,
              "soup": list(soup) if soup else None,
              "cells": to_json(cells)}
    if haystack:
        hay = Haystack(lm, haystack)
        hcells = haystack_bench(lm, hay, [512] if quick else [1024, 4096, 16384], ["start", "middle", "end"],
                                [2] if quick else [1, 2, 4, 8, 16, 32], 512 if quick else 2048,
                                ["train", "heldout"], 2 if quick else n)
        md += f"\nhaystack {', '.join(haystack)}\n\n{haystack_table(hcells)}\n"
        result["haystack"] = haystack
        result["haystack_cells"] = haystack_json(hcells)
    (out / "bench.md").write_text(md)
    (out / "bench.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description="Train the default model's recipe, then bench it.")
    ap.add_argument("out", type=Path)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--quick", action="store_true", help="a few steps per phase: the CPU check")
    ap.add_argument("--lengths", default=None, help="bench lengths, e.g. 1024,16384,262144,1048576")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--recipe", default="bpe", choices=sorted(RECIPES))
    ap.add_argument("--until", default=None, help="last phase to run (default: the shipped model's, "
                    + ", ".join(f"{r} {p}" for r, p in SHIPPED.items()) + ")")
    ap.add_argument("--haystack", action="append", default=None,
                    help="also bench on this folder's text (never trained on), e.g. a package from site-packages")
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")] if args.lengths else None
    try:
        phases_until(args.recipe, args.until)
    except ConfigError as e:
        ap.error(str(e))
    result = run_recipe(args.out, args.device, args.quick, lengths, args.n, recipe=args.recipe,
                        haystack=args.haystack, until=args.until)
    print((args.out / "bench.md").read_text())
    print(f"model: {result['model_dir']}")


if __name__ == "__main__":
    main()
