"""How fast a stored fact fades from each memory head as text streams past it.

    python benchmarks/bench_retention.py --model checkpoints/bpe-p4 --haystack runs/eval/prose

The token-level delta rule writes M <- (I - beta_t k_t k_t^T) M + beta_t k_t v_t^T (unit keys, l2
feature map). What a fact wrote along its key k_n therefore evolves, under the later writes, as
d <- d - beta_t (k_t . d) k_t from d = k_n, and the fact's own value still comes back from a read
with k_n in the share

    retention(L) = k_n . d_L  after L later tokens.

Repeated keys erode only their own direction once, so repetitive text keeps what lies outside
its keys' span; real text, with keys in every direction, does not. (Exact for layer 0; deeper
layers see keys that depend on what earlier layers read, so there it is the same measure on the
keys the model actually wrote.) A needle ("The vault combination is 482 913.") is hidden in
windows of the haystack's text; per layer and head the table gives the mean write strength on
the text and on the needle's value tokens, the mean squared overlap (k_t . k_n)^2 of later keys,
and retention after 1K, 4K and 16K later tokens. A head can carry a fact across L tokens only
where retention(L) is well above zero.
"""

from __future__ import annotations

import argparse
import random

import torch
import torch.nn.functional as F

from docqa.bench.haystack import Haystack
from docqa.model.infini import InfiniAttention, call_inputs
from docqa.model.io import load_model

NEEDLE, VALUE = " The vault combination is 482 913. ", " 482 913"


def retention(keys: torch.Tensor, beta: torch.Tensor, kn: torch.Tensor, at: tuple[int, ...]) -> list[float]:
    """k_n . d after each count in `at` of the writes (keys (L, D), beta (L,)), float64."""
    d, out = kn.double().clone(), []
    keys, beta = keys.double(), beta.double()
    for t in range(max(at)):
        d -= beta[t] * (keys[t] @ d) * keys[t]
        if t + 1 in at:
            out.append(float(kn.double() @ d))
    return out


def measure(lm, hay: Haystack, trials: int, seed: int) -> dict[tuple[int, int], list[float]]:
    S, tok = lm.config.segment_len, lm.tokenizer
    needle, value = tok.encode(NEEDLE), tok.encode(VALUE)
    at = next(i for i in range(len(needle)) if needle[i:i + len(value)] == value)
    L = 16384 + 4 * S
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []
    layers = [m for m in lm.model.modules() if isinstance(m, InfiniAttention)]
    # each layer's input, turned into the keys and write strengths it writes with
    hooks = [m.register_forward_pre_hook(lambda m, args: captured.append(m.writes(*call_inputs(args)))) for m in layers]
    rng, sums = random.Random(seed), {}
    try:
        for _ in range(trials):
            pos = 2 * S + 17
            window = hay.window(rng, L)
            x = window[:pos] + needle + window[pos:L - len(needle)]
            captured.clear()
            with torch.no_grad():
                lm.model(torch.tensor([x]))
            vals = list(range(pos + at, pos + at + len(value)))
            later = torch.arange(pos + len(needle), L)
            for layer, (k, beta) in enumerate(captured):
                keys, b = F.normalize(k[0].float(), dim=-1), beta[0].float()  # (H, T, Dk), (H, T)
                for h in range(k.shape[1]):
                    kn = F.normalize(keys[h, vals].mean(0), dim=0)
                    overlap = (keys[h, later] @ kn) ** 2
                    row = [b[h, later].mean(), b[h, vals].mean(), overlap.mean(),
                           *retention(keys[h, later], b[h, later], kn, (1024, 4096, 16384))]
                    acc = sums.setdefault((layer, h), [0.0] * len(row))
                    for i, r in enumerate(row):
                        acc[i] += float(r) / trials
    finally:
        for h in hooks:
            h.remove()
    return sums


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--haystack", action="append", required=True, help="folder or file of real text")
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    rows = measure(lm, Haystack(lm, args.haystack), args.trials, args.seed)
    print(f"model {lm.name}, haystack {', '.join(args.haystack)}, {args.trials} windows\n")
    print("| layer | head | beta on text | beta on the value | mean (k . k_n)^2 | retention 1K | 4K | 16K |")
    print("|---|---|---|---|---|---|---|---|")
    for (layer, h), r in sorted(rows.items()):
        ret = " | ".join(f"{e:.2f}" for e in r[3:])
        print(f"| {layer} | {h} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} | {ret} |")


if __name__ == "__main__":
    main()
