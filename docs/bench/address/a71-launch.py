"""a71 (twenty-eighth session): a new run from a69's step-25 model (the default's weights since this
session) with half the named facts stated and asked in composed frames (composed_fact_frames 0.5),
a69's settings otherwise (task_mix facts 4, a63's late learning rates). a68's composed needle
questions gained held-out needles; the named facts, whose held-out wordings the default answers 0.55-0.65,
never trained on composed frames on this line. Run:
.venv/bin/python docs/bench/address/a71-launch.py runs/a71 [STOP_AT]"""
import sys
from pathlib import Path

from docqa import recipe
from docqa.model.io import header_quiet, load_model
from docqa.train.loop import TrainConfig, checkpoint_dir, train

start = "runs/a69/models/step-25"
fields = {p[0]: p for p in recipe.BPE_PHASES}["a69"][2]
cfg = dict(fields, init_from=start, seed=71, steps=100, composed_fact_frames=0.5, threads=1)
cfg["model_overrides"] = {**cfg["model_overrides"], **header_quiet(load_model(start).tokenizer)}
run = Path(sys.argv[1])
stop = int(sys.argv[2]) if len(sys.argv) > 2 else None
train(run, None if checkpoint_dir(run) else TrainConfig.from_dict(cfg), stop_at=stop,
      on_log=lambda line: print(line, file=sys.stderr, flush=True))
