"""a65 (twenty-fourth session): a new run from checkpoints/bpe-a63 with a63's settings (recipe's a41 phase
plus its branches' fields), short documents on half the filler draws, each file from a place of its own
(short_docs_apart), at the learning rates a63's schedule had reached at step 1550 (about 0.2 x a41's),
with a longer warm-up: the machine was fresh and a63's run (its Adam moments and history bank) was gone.
Run: .venv/bin/python docs/bench/address/a65-launch.py runs/a65 [STOP_AT [SEED [LR_SCALE]]]
a66: the same at twice the learning rates, seed 66: a65-launch.py runs/a66 400 66 2
a67: five times (a41's own rates), seed 67: a65-launch.py runs/a67 400 67 5"""
import sys
from pathlib import Path

from docqa import recipe
from docqa.train.loop import TrainConfig, checkpoint_dir, train

LR = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0  # a66: 2
cfg = dict(recipe._A41)
for name, _, fields in recipe.BPE_PHASES:
    if name in ("a59", "a61", "a62", "a63"):
        cfg.update(fields)
cfg.update(init_from="checkpoints/bpe-a63", seed=int(sys.argv[3]) if len(sys.argv) > 3 else 65, steps=400, warmup=30, lr=6e-5 * LR, conv_lr=2e-3 * LR, gate_lr=2e-3 * LR,
           start_max_segments=128, curriculum_steps=1, keep_every=25, save_every=25,
           short_docs=0.5, short_docs_apart=True, threads=1,
           model_overrides={"write_threshold": 0.0, "write_window": 0, "short_conv": 8, "write_gate_layers": None})
run = Path(sys.argv[1])
stop = int(sys.argv[2]) if len(sys.argv) > 2 else None
train(run, None if checkpoint_dir(run) else TrainConfig.from_dict(cfg), stop_at=stop,
      on_log=lambda line: print(line, file=sys.stderr, flush=True))
