"""a69 (twenty-seventh session): a branch of a68 at step 175 that asks named facts twice as often
(task_mix facts 4, was 2) at a63's late learning rates (a68 ran at twice them). a68's composed
questions and requests gained held-out needles save after save (step 175 against the default: 41
held-out trials only it answered against 10, over two seeds) and lost named facts asked in training
phrasings (0.68 against 0.78 at step 175); this asks whether more named facts in the mix keep both.
Run: .venv/bin/python docs/bench/address/a69-launch.py runs/a69 [STOP_AT]"""
import sys
from pathlib import Path

from docqa import recipe
from docqa.model.io import header_quiet, load_model
from docqa.train.loop import TrainConfig, checkpoint_dir, train

start = "runs/a68/models/step-175"
cfg = dict(recipe._A41)
for name, _, fields in recipe.BPE_PHASES:
    if name in ("a59", "a61", "a62", "a63"):
        cfg.update(fields)
quiet = header_quiet(load_model(start).tokenizer)
mix = dict(cfg["task_mix"], facts=4)
cfg.update(init_from=start, seed=69, steps=100, warmup=10, lr=6e-5, conv_lr=2e-3, gate_lr=2e-3,
           start_max_segments=128, curriculum_steps=1, keep_every=25, save_every=25, composed_questions=0.5,
           task_mix=mix, threads=1, model_overrides={"write_threshold": 0.0, "write_window": 0, "short_conv": 8,
                                                     "write_gate_layers": None, **quiet})
run = Path(sys.argv[1])
stop = int(sys.argv[2]) if len(sys.argv) > 2 else None
train(run, None if checkpoint_dir(run) else TrainConfig.from_dict(cfg), stop_at=stop,
      on_log=lambda line: print(line, file=sys.stderr, flush=True))
