"""New runs from a69's step-25 model (the default's weights since the twenty-eighth session) with
a69's settings and what they change (docs/TRAINING.md, twenty-eighth session):
  a71: .venv/bin/python docs/bench/address/from-a69-launch.py runs/a71 100 71 composed_fact_frames=0.5
  a72: .venv/bin/python docs/bench/address/from-a69-launch.py runs/a72 25 72 address_weight=2.0
Usage: from-a69-launch.py RUN STOP_AT SEED [FIELD=JSON_VALUE ...]; a run resumes with the same command."""
import json
import sys
from pathlib import Path

from docqa import recipe
from docqa.model.io import header_quiet, load_model
from docqa.train.loop import TrainConfig, checkpoint_dir, train

start = "runs/a69/models/step-25"
run, stop, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
changes = {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[4:])}
fields = {p[0]: p for p in recipe.BPE_PHASES}["a69"][2]
cfg = dict(fields, init_from=start, seed=seed, steps=100, threads=1, **changes)
cfg["model_overrides"] = {**cfg["model_overrides"], **header_quiet(load_model(start).tokenizer)}
train(run, None if checkpoint_dir(run) else TrainConfig.from_dict(cfg), stop_at=stop,
      on_log=lambda line: print(line, file=sys.stderr, flush=True))
