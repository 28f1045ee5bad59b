"""a69 (twenty-seventh session): a branch of a68 at step 175 that asks named facts twice as often
(task_mix facts 4, was 2) at a63's late learning rates (a68 ran at twice them). a68's composed
questions and requests gained held-out needles save after save (step 175 against the default: 41
held-out trials only it answered against 10, over two seeds) and lost named facts asked in training
phrasings (0.68 against 0.78 at step 175); this asks whether more named facts in the mix keep both.
Its settings are the recipe's phase a69 (docqa/recipe.py, since the twenty-eighth session, when it
shipped); the run starts from a68's own run rather than the recipe's.
Run: .venv/bin/python docs/bench/address/a69-launch.py runs/a69 [STOP_AT]"""
import sys
from pathlib import Path

from docqa import recipe
from docqa.model.io import header_quiet, load_model
from docqa.train.loop import TrainConfig, checkpoint_dir, train

start = "runs/a68/models/step-175"
fields = {p[0]: p for p in recipe.BPE_PHASES}["a69"][2]
cfg = dict(fields, init_from=start, threads=1)
cfg["model_overrides"] = {**cfg["model_overrides"], **header_quiet(load_model(start).tokenizer)}
run = Path(sys.argv[1])
stop = int(sys.argv[2]) if len(sys.argv) > 2 else None
train(run, None if checkpoint_dir(run) else TrainConfig.from_dict(cfg), stop_at=stop,
      on_log=lambda line: print(line, file=sys.stderr, flush=True))
