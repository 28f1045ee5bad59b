"""A's model with B's weights whose names match PATTERN (soup_models at weight 1, `only`), under the
write gate a118 shipped with (the line these probes ran on), for the benches (docs/TRAINING.md, thirtieth session):
  .venv/bin/python docs/bench/address/graft.py checkpoints/bpe-a63 runs/a69/models/step-25 'attn\\.conv' runs/probe/g-conv-d
Usage: graft.py A B PATTERN OUT; OUT-raw keeps the graft under A's own gate."""
import sys

from docqa.model.io import load_model, regate_model, soup_models
from docqa.recipe import shipped_gate

a, b, pattern, out = sys.argv[1:5]
soup_models(a, b, 1.0, out + "-raw", only=pattern)
print(regate_model(out + "-raw", out, **shipped_gate("bpe", load_model(out + "-raw").tokenizer, shipped="a118")))
