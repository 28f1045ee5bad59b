"""A's model with B's embedding rows for the tracking task's training words and B's weights whose names
match PATTERN, under the write gate a118 shipped with (the line these probes ran on), for the benches (docs/TRAINING.md, thirty-fifth
session). The words: the training split of MOVES, WHERE, PLACES and PEOPLE and the training-only composed
and wide move and question parts (docqa.train.phrasings), each as written, lower-cased, and after a space;
tokens with a digit stay A's.
  .venv/bin/python docs/bench/address/trackrows.py runs/s92raw runs/a101/models/step-100 runs/probe/vg-track '^(blocks\\.0\\.|norm_f\\.)'
  pg-none '^$never', pg-mlp '^blocks\\.0\\.(norm2|mlp)\\.', pg-attn '^blocks\\.0\\.(norm1|attn)\\.',
  pg-ws '^blocks\\.0\\.attn\\.(write_strength|gate)', pg-rep '^blocks\\.0\\.(norm1|attn\\.(qkv|conv|proj))'
Usage: trackrows.py A B OUT PATTERN; OUT-raw keeps A's own gate."""
import re
import sys

from docqa.model.io import load_model, regate_model, save_model
from docqa.recipe import shipped_gate
from docqa.train import phrasings

a, b, out, pattern = sys.argv[1:5]
ma, mb = load_model(a), load_model(b)
sa, sb = ma.model.state_dict(), mb.model.state_dict()
tok = ma.tokenizer
texts = [t for name in ("MOVES", "WHERE", "PLACES", "PEOPLE") for t in phrasings.split(getattr(phrasings, name), "train")]
texts += [t for name in dir(phrasings) if name.startswith(("COMPOSED_MOVE", "COMPOSED_WHERE", "WIDE_MOVE"))
          for t in getattr(phrasings, name)]
ids = set()
for t in texts:
    t = t.replace("{p}", "").replace("{l}", "")
    for variant in (t, " " + t, t.lower(), " " + t.lower()):
        ids.update(tok.encode(variant))
rows = sorted(i for i in ids if not re.search(r"\d", tok.decode([i])))
state = {k: (sb[k] if re.search(pattern, k) else w) for k, w in sa.items()}
state["emb.weight"] = sa["emb.weight"].clone()
state["emb.weight"][rows] = sb["emb.weight"][rows]
ma.model.load_state_dict(state)
save_model(ma.model, tok, out + "-raw")
print(len(rows), "rows;", regate_model(out + "-raw", out, **shipped_gate("bpe", tok, shipped="a118")))
