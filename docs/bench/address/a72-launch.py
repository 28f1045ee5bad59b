"""a72 (twenty-eighth session): a new run from a69's step-25 model (the default's weights since this
session) with the address loss on layer 1 twice as strong (address_weight 2.0, was 1.0), a69's settings
otherwise. Of the named facts the default lost against a63 (asked in training phrasings), four came
back as another fact's value: a sharper layer-1 address might keep them apart. Run:
.venv/bin/python docs/bench/address/a72-launch.py runs/a72 [STOP_AT]"""
import sys
from pathlib import Path

from docqa import recipe
from docqa.model.io import header_quiet, load_model
from docqa.train.loop import TrainConfig, checkpoint_dir, train

start = "runs/a69/models/step-25"
fields = {p[0]: p for p in recipe.BPE_PHASES}["a69"][2]
cfg = dict(fields, init_from=start, seed=72, steps=100, address_weight=2.0, threads=1)
cfg["model_overrides"] = {**cfg["model_overrides"], **header_quiet(load_model(start).tokenizer)}
run = Path(sys.argv[1])
stop = int(sys.argv[2]) if len(sys.argv) > 2 else None
train(run, None if checkpoint_dir(run) else TrainConfig.from_dict(cfg), stop_at=stop,
      on_log=lambda line: print(line, file=sys.stderr, flush=True))
