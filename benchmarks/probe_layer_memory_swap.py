"""Probe: which layer's memory makes two gates of one model answer differently?

    python benchmarks/probe_layer_memory_swap.py MODEL_A MODEL_B [--length 131072] [--depth end] [--trials 0,9]

MODEL_A and MODEL_B are the same weights under two write gates (docqa.model.io.regate_model). Each
trial of the synthetic passkey cell (`docqa bench recall --lengths L --depths D`, seed 0: the same
documents) is streamed into a memory under each gate; then B answers from its own memory with one
layer's memory taken from A's, for each layer in turn. Prints the answers and each layer's memory
norm per head (Frobenius). Found that layer 1 at 0.3 keeps no trace of the pass key at 128K tokens
(docs/TRAINING.md, twenty-sixth session). A diagnostic of a few trials, not a recall figure.
"""

from __future__ import annotations

import argparse

import torch

from docqa.bench.recall import DEPTHS
from docqa.memory import Memory
from docqa.model.base import greedy_text
from docqa.model.io import load_model
from docqa.train.evaluate import cell_doc
from docqa.train.tasks import Filler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_a")
    ap.add_argument("model_b")
    ap.add_argument("--length", type=int, default=131072)
    ap.add_argument("--depth", default="end", choices=sorted(DEPTHS))
    ap.add_argument("--trials", default="0,9", help="trial numbers of the cell, comma-separated")
    args = ap.parse_args()
    torch.set_num_threads(1)
    a, b = load_model(args.model_a), load_model(args.model_b)
    if a.config.vocab_size != b.config.vocab_size or a.config.n_layer != b.config.n_layer:
        raise SystemExit("the two models must be one set of weights under two gates")
    tok, S, depth = a.tokenizer, a.config.segment_len, DEPTHS[args.depth]
    filler = Filler(tok)
    with torch.no_grad():
        for i in (int(t) for t in args.trials.split(",")):
            doc = cell_doc(tok, filler, S, "passkey", args.length, depth, 0, i)
            stream = torch.tensor([doc.tokens[:doc.question_start]])
            prompt = doc.tokens[doc.question_start:doc.answer_start]
            ma, mb = a.model.ingest(stream, a.model.new_memory(1)), b.model.ingest(stream, b.model.new_memory(1))

            def answer(lm, memory):
                return repr(greedy_text(lm, prompt, memory, len(doc.answer) + 2))

            print(f"trial {i}, pass key {doc.answer}: A {answer(a, ma)}, B {answer(b, mb)}")
            for layer in range(a.config.n_layer):
                mixed = Memory([ma.layers[k] if k == layer else mb.layers[k] for k in range(len(mb.layers))],
                               mb.pending, mb.segments)
                norms = [[round(float(x), 1) for x in m.layers[layer].M[0].flatten(1).norm(dim=1)] for m in (ma, mb)]
                print(f"  B with A's layer {layer}: {answer(b, mixed)}; layer {layer} norm per head A {norms[0]}, B {norms[1]}")


if __name__ == "__main__":
    main()
