"""B's weights moved on past A, B + lam * (B - A) (task arithmetic along the step from A to B), under
the write gate a118 shipped with (the line these probes ran on), for the benches (docs/TRAINING.md, thirtieth session):
  .venv/bin/python docs/bench/address/extrapolate.py checkpoints/bpe-a63 runs/a69/models/step-25 0.5 runs/probe/x05-d
Usage: extrapolate.py A B LAM OUT; OUT-raw keeps the result under B's own gate."""
import sys

from docqa.model.io import load_model, regate_model, save_model, soup_models
from docqa.recipe import shipped_gate

a, b, lam, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
soup_models(b, a, 0.0, out + "-raw")  # b itself, after the soup's checks that the two line up
mb, sa = load_model(out + "-raw"), load_model(a).model.state_dict()
sb = mb.model.state_dict()
mb.model.load_state_dict({k: sb[k] + lam * (sb[k] - sa[k]) if sb[k].is_floating_point() else sb[k] for k in sb})
save_model(mb.model, mb.tokenizer, out + "-raw")
print(regate_model(out + "-raw", out, **shipped_gate("bpe", mb.tokenizer, shipped="a118")))
