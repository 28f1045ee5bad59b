"""Probe: how much each layer writes to memory, per segment and head, under one or more write gates.

    python benchmarks/probe_write_counts.py MODEL... [--tokens 16384] [--prose runs/eval/prose]

Streams two texts from an empty memory into each model (the same weights under different gates,
docqa.model.io.regate_model): the first --tokens tokens of the --prose folder's files in name order
(never trained on), and the synthetic passkey cell's stream at that length (the model's own filler,
trial 0, seed 0). Prints, per layer, the mean number of writes a head keeps per segment, the share
of (segment, head) pairs that write nothing, and the mean write strength (sum of beta) per segment
and head. Written to see whether a layer-1 floor (ModelConfig.write_floor_per_layer) changes layer 1
on prose or only where the threshold left it empty (docs/TRAINING.md, twenty-seventh session).
`--places LAYER` then lists, per model, every prose token that layer writes (head, position, beta and the
words around it): what a count of 0.06 is made of (forty-seventh session).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from docqa.bench.recall import DEPTHS
from docqa.model.center import memory_projections
from docqa.model.io import load_model
from docqa.train.evaluate import cell_doc
from docqa.train.tasks import Filler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--tokens", type=int, default=16384)
    ap.add_argument("--prose", type=Path, default=Path("runs/eval/prose"))
    ap.add_argument("--places", type=int, default=None, metavar="LAYER",
                    help="also list the prose tokens this layer writes, per model")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| model | text | layer | writes / segment / head | empty (segment, head) | beta sum / segment / head |")
    print("|---|---|---|---|---|---|")
    places = []
    for path in args.models:
        lm = load_model(path)
        S = lm.config.segment_len
        n = args.tokens
        prose = []
        for f in sorted(args.prose.iterdir()):
            prose += lm.tokenizer.encode(f.read_text(errors="replace"))
            if len(prose) >= n:
                break
        doc = cell_doc(lm.tokenizer, Filler(lm.tokenizer), S, "passkey", n, DEPTHS["middle"], 0, 0)
        for label, tokens in (("prose", prose[:n]), ("filler", doc.tokens[:doc.question_start][:n])):
            t = torch.tensor([tokens[:len(tokens) // S * S]])  # whole segments: a pending tail writes nothing
            for layer, (_, _, beta) in enumerate(memory_projections(lm.model, t)):
                seg = beta[0].unflatten(-1, (-1, S))  # (H, N, S)
                writes = (seg > 0).sum(-1).float()  # (H, N)
                print(f"| {Path(path).name} | {label} | {layer} | {writes.mean():.2f} | "
                      f"{(writes == 0).float().mean():.3f} | {seg.sum(-1).mean():.3f} |")
                if label == "prose" and layer == args.places:
                    places += [f"{path} layer {layer} head {h} token {i}: beta {b:.2f} {words!r}"
                               for h, i, b, words in write_places(lm.tokenizer, tokens, beta[0])]
    print("\n".join(places))


def write_places(tokenizer, tokens: list[int], beta: torch.Tensor) -> list[tuple[int, int, float, str]]:
    """(head, token, beta, words) for every token a layer writes (beta (H, T) > 0), head by head; `words`
    is the 8 tokens before it, the token in brackets and the 2 after."""
    def text(a: int, b: int) -> str:
        return tokenizer.decode(tokens[max(0, a):b])
    return [(h, i, float(beta[h, i]), f"{text(i - 8, i)}[{text(i, i + 1)}]{text(i + 1, i + 3)}")
            for h, i in (beta > 0).nonzero().tolist()]


if __name__ == "__main__":
    main()
