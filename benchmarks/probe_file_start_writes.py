"""Probe: how strongly each layer and head writes at a file's first tokens, in the stream `docqa bench
sources --haystack` ingests (N short files cut from the haystack, each behind its header).

    python benchmarks/probe_file_start_writes.py MODEL... [--haystack runs/eval/prose] [--n-docs 100]
        [--trials 4] [--first 8]

For trials 0..trials-1 of the sources cell (docqa.bench.sources.draw_trial, the pass key hidden as the
bench hides it), the gated write strength beta per (layer, head) from an empty memory
(model.center.memory_projections), averaged over three kinds of position: a file's first `--first`
tokens after its header line, the pass key's sentence, and the rest of the text; and the sum of beta
over the whole stream's file starts and text, per head. Written when a141 lost the pass key among 100
short files while 8K tokens of continuous prose kept it (docs/TRAINING.md, forty-second session).
"""

from __future__ import annotations

import argparse

import torch

from docqa.bench.sources import doc_name, draw_trial, haystack_texts, hide
from docqa.model.center import memory_projections
from docqa.model.io import load_model
from docqa.prompt import header_tokens
from docqa.train.tasks import PASSKEY_FORMS


def stream(lm, texts: list[str], k: int, key: str, first: int) -> tuple[list[int], torch.Tensor]:
    """The ingest stream of the trial's files -> (tokens, kind per token: 0 header, 1 file start,
    2 pass key sentence, 3 other text)."""
    needle = PASSKEY_FORMS[0][0].format(v=key)
    tokens: list[int] = []
    kinds: list[int] = []
    for i, text in enumerate(texts):
        head = header_tokens(lm.tokenizer, doc_name(i))  # the names the bench writes
        body_text = hide(text, needle) if i == k else text
        body = lm.tokenizer.encode(body_text)
        kind = [1 if j < first else 3 for j in range(len(body))]
        if i == k:  # the pass key's tokens: those of the needle's span, found by encoding up to it
            at = body_text.index(needle)
            a = len(lm.tokenizer.encode(body_text[:at]))
            b = len(lm.tokenizer.encode(body_text[:at + len(needle)]))
            kind[a:b] = [2] * (b - a)
        tokens += head + body
        kinds += [0] * len(head) + kind
    return tokens, torch.tensor(kinds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--haystack", default="runs/eval/prose")
    ap.add_argument("--n-docs", type=int, default=100)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--first", type=int, default=8, help="tokens after a header that count as a file's start")
    args = ap.parse_args()
    pool = haystack_texts([args.haystack], 256)
    for path in args.models:
        lm = load_model(path)
        sums: dict[tuple[int, int], torch.Tensor] = {}
        for i in range(args.trials):
            texts, k, key = draw_trial(args.n_docs, i, True, 256, 0, pool)
            tokens, kinds = stream(lm, texts, k, key, args.first)
            for layer, (_q, _k, beta) in enumerate(memory_projections(lm.model, torch.tensor([tokens]))):
                kind = kinds[:beta.shape[-1]]  # whole segments only: the pending tail writes nothing yet
                for h in range(beta.shape[1]):
                    b = beta[0, h].double()
                    row = torch.tensor([b[kind == 1].mean(), b[kind == 2].mean(), b[kind == 3].mean(),
                                        b[kind == 1].sum(), b[kind == 3].sum()], dtype=torch.double)
                    sums[(layer, h)] = sums.get((layer, h), 0) + row / args.trials
        print(f"model {lm.name}, {args.n_docs} files, {args.trials} trials, first {args.first} tokens\n")
        print("| layer.head | file start mean | pass key mean | text mean | file starts sum | text sum |")
        print("|---|---|---|---|---|---|")
        for (layer, h), r in sorted(sums.items()):
            print(f"| {layer}.{h} | {r[0]:.4f} | {r[1]:.4f} | {r[2]:.4f} | {r[3]:.2f} | {r[4]:.2f} |")
        print()


if __name__ == "__main__":
    main()
