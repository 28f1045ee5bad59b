"""Why a needle in the middle of a long text is lost: the text before it, or after it, and where.

    python benchmarks/bench_needle_context.py --model checkpoints/bpe-a28 --haystack runs/eval/prose

A needle sits at a segment boundary in the middle of `--length` tokens of real text: A (the
text before it), N (the statement), B (the text after it), then the question, as `docqa ask`
asks it. Each row answers the same trials from a different memory:

- full:            A N B, the bench's own case;
- no A:            N B from an empty memory (the needle at the start, the same text after it);
- A zeroed in L:   A N B with layer L's memory emptied where A ends (the other layers keep A);
- only A in L:     A N B with every layer but L emptied where A ends;
- no B:            A N and one segment of B (the needle near the end).

If "no A" recovers what "full" loses, the text before the needle does the harm; the per-layer
rows say through which layer's memory. Beside each row, per layer, the cosine between the key
the needle's value writes with (its first informative token, docqa.train.tasks.key_offset) and
the same key in "no A", and its mean write strength (beta, head-averaged): a key moved by A's
memory, or a write weakened by it, is how the earlier layers' reads of A could reach the write.
"""

from __future__ import annotations

import argparse
import json
import random

import torch
import torch.nn.functional as F

from docqa.bench.haystack import Haystack, greedy_answer
from docqa.memory import Memory
from docqa.model.infini import InfiniAttention, call_inputs
from docqa.model.io import load_model
from docqa.train.tasks import key_offset, needle_facts


def trials(lm, hay: Haystack, n: int, length: int, split: str, seed: int):
    """(A, N, B, question, answer, index of the value's key token in N) for n needles; A ends at
    the segment boundary nearest the middle, N B fills the rest so every trial has one length."""
    tok, S = lm.tokenizer, lm.config.segment_len
    pos = length // 2 // S * S
    out = []
    for i in range(n):
        rng = random.Random(f"{seed}:needle-context:{split}:{length}:{i}")
        statement, (question, answer) = needle_facts(rng, split)[0]
        window = hay.window(rng, length)
        needle = tok.encode(statement)
        out.append((window[:pos], needle, window[pos:length - len(needle)], question, answer,
                    key_offset(tok, needle, answer)))
    return out


def variants(lm, a_mem: Memory) -> dict[str, Memory]:
    """The memories the needle is written into, from the memory after A (batch of trials)."""
    L = len(a_mem.layers)
    empty = lm.model.new_memory(a_mem.batch)
    empty.segments = a_mem.segments  # only the counter of segments streamed; no state
    out = {"full": a_mem, "no A": empty}
    for layer in range(L):
        out[f"A zeroed in {layer}"] = a_mem.knocked_out(layer)
        m = a_mem.clone()
        for other in range(L):
            if other != layer:
                m.layers[other].M.zero_(), m.layers[other].z.zero_()
        out[f"only A in {layer}"] = m
    return out


@torch.no_grad()
def measure(lm, cases, batch: int = 10) -> dict[str, dict]:
    S = lm.config.segment_len
    layers = [m for m in lm.model.modules() if isinstance(m, InfiniAttention)]
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = [m.register_forward_pre_hook(lambda m, args: captured.append(m.writes(*call_inputs(args)))) for m in layers]
    rows: dict[str, dict] = {}
    try:
        for b in range(0, len(cases), batch):
            group = cases[b:b + batch]
            a_mem = lm.model.ingest(torch.tensor([c[0] for c in group]), lm.model.new_memory(len(group)))
            key_at = [c[5] for c in group]
            keys: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # name -> (keys (L, n, H, D), beta (L, n))
            for name, mem in [*variants(lm, a_mem).items(), ("no B", None)]:
                if name == "no B":  # A N and one segment of B: the needle near the end
                    nb = [c[1] + c[2] for c in group]
                    cut = -(-max(len(c[1]) for c in group) // S) * S + S
                    mem = lm.model.ingest(torch.tensor([t[:cut] for t in nb]), a_mem.clone())
                    captured.clear()
                else:
                    captured.clear()
                    mem = lm.model.ingest(torch.tensor([c[1] + c[2] for c in group]), mem.clone())
                    # the first chunk's writes start at the needle: its key token is at key_at
                    ks = torch.stack([F.normalize(k[torch.arange(len(group)), :, key_at].float(), dim=-1)
                                      for k, _ in captured[:len(layers)]])  # (L, n, H, D)
                    bs = torch.stack([beta[torch.arange(len(group)), :, key_at].float().mean(-1)
                                      for _, beta in captured[:len(layers)]])  # (L, n)
                    keys[name] = (ks, bs)
                row = rows.setdefault(name, {"right": 0, "n": 0, "cos": [], "beta": [], "misses": []})
                for j, c in enumerate(group):
                    got = greedy_answer(lm, c[3], c[4], mem.select(j))
                    row["right"] += got == c[4]
                    row["n"] += 1
                    if got != c[4] and len(row["misses"]) < 5:
                        row["misses"].append(f"{c[4]} -> {got}")
            ref = keys["no A"][0]
            for name, (ks, bs) in keys.items():
                rows[name]["cos"].append((ks * ref).sum(-1).mean(-1))  # (L, n): head-averaged cosine
                rows[name]["beta"].append(bs)
    finally:
        for h in hooks:
            h.remove()
    for row in rows.values():
        if row["cos"]:
            row["cos"] = torch.cat(row["cos"], 1).mean(1).tolist()
            row["beta"] = torch.cat(row["beta"], 1).mean(1).tolist()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--haystack", action="append", required=True, help="folder or file of real text")
    ap.add_argument("--length", type=int, default=16384, help="tokens of text before the question")
    ap.add_argument("--split", default="heldout", choices=["train", "heldout"])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="the rows as JSON, not a table")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    cases = trials(lm, Haystack(lm, args.haystack), args.n, args.length, args.split, args.seed)
    if any(c[5] < 0 for c in cases):
        raise SystemExit("a value merged with its neighbour in some statement; try another --seed")
    rows = measure(lm, cases)
    if args.json:
        print(json.dumps({"model": lm.name, "length": args.length, "split": args.split, "n": args.n,
                          "seed": args.seed, "rows": rows}, indent=1))
        return
    L = len(next(r for r in rows.values() if r["cos"])["cos"])
    print(f"model {lm.name}, {args.n} {args.split} needles in the middle of {args.length} tokens of "
          f"{', '.join(args.haystack)}, seed {args.seed}\n")
    print("| memory | exact | " + " | ".join(f"key cos / beta L{i}" for i in range(L)) + " | misses |")
    print("|---|---|" + "---|" * L + "---|")
    for name, r in rows.items():
        cells = " | ".join(f"{c:.3f} / {b:.2f}" for c, b in zip(r["cos"], r["beta"])) if r["cos"] else " | ".join("-" * 1 for _ in range(L))
        print(f"| {name} | {r['right'] / r['n']:.2f} | {cells} | {'; '.join(r['misses'][:3])} |")


if __name__ == "__main__":
    main()
