"""A's model with the weights each PATTERN matches moved toward B's by WEIGHT (soup_models with `only`,
the patterns applied in order), under the write gate a118 shipped with (the line these probes ran on), for the benches (docs/TRAINING.md,
thirty-fourth session):
  .venv/bin/python docs/bench/address/graftmix.py runs/s92raw runs/a101/models/step-100 runs/probe/gm-b0-e5 \\
      'blocks\\.0\\.:1' 'emb|norm_f:0.5'
Usage: graftmix.py A B OUT PATTERN:WEIGHT...; OUT-raw keeps the result under A's own gate."""
import shutil
import sys
import tempfile
from pathlib import Path

from docqa.model.io import load_model, regate_model, soup_models
from docqa.recipe import shipped_gate

a, b, out = sys.argv[1:4]
with tempfile.TemporaryDirectory() as tmp:
    current = a
    for i, spec in enumerate(sys.argv[4:]):
        pattern, weight = spec.rsplit(":", 1)
        step = str(Path(tmp) / str(i))
        soup_models(current, b, float(weight), step, only=pattern)
        current = step
    shutil.rmtree(out + "-raw", ignore_errors=True)
    shutil.copytree(current, out + "-raw")
print(regate_model(out + "-raw", out, **shipped_gate("bpe", load_model(out + "-raw").tokenizer, shipped="a118")))
