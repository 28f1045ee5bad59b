"""Can docqa's architecture learn key-addressed reads through its memory at all? A from-scratch probe.

    python benchmarks/probe_mqar.py --lr 3e-3 --pairs 16 --ktok 1       # single-token keys
    python benchmarks/probe_mqar.py --lr 3e-3 --pairs 16 --ktok 3 --gap 1 --conv 8
    python benchmarks/probe_mqar.py --pairs 16 --vtok 3 --next-value 1   # 3-token values, layer 1 k_t -> v_{t+1}

Multi-query associative recall (MQAR, Zoology) laid across segments: `--nseg` segments of filler
hold `--pairs` statements "KEY [gap] VALUE" at random places; the next segment asks every key
("KEY ? VALUE") and the loss is on the value after each "?". Local attention never sees an
earlier segment, so a right answer can only come from the memory read addressed by the key.
A key is `--ktok` tokens from an alphabet of `--alpha` (as BPE cuts a name into fragments), and
`--gap` tokens stand between key and value. A value is `--vtok` tokens: the first is read by the
question, each later one by the value so far, the read that fails on docqa's long streams (a needle's
first token right and the rest wrong); `--next-value L` makes layers L write k_t -> v_{t+1}
(ModelConfig.next_value_layers) so that each context is stored with the token after it. The model
is `InfiniTransformer` exactly as docqa trains it (L2 features, token-level delta rule, write
strength, short conv), trained from scratch
on a vocabulary of 516 tokens. Prints one JSON line per 50 steps: loss, accuracy on the values
(chance 1/256), `by_pos` the accuracy of each value token, `exact` of whole values (teacher-forced),
the mean eq. 10 gate per layer. Numbers measured with it are in docs/TRAINING.md.
`--address W` adds training's address loss (docqa/train/address.py) at weight W: per head of the
`--address-layers` (default 1), the cross-entropy of the asked statement's key (at its value token) among the
document's keys, for the query at each "?"; `addr` is how often the asked key matched best.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from docqa.model.config import ModelConfig
from docqa.model.transformer import InfiniTransformer
from docqa.train.address import address_loss

N_KEYS, N_VALUES = 256, 256  # token ids: 0..3 specials (2 filler, 1 "?", 3 gap), keys from 4, values after
QUERY, FILLER, GAP, FIRST_KEY = 1, 2, 3, 4
FIRST_VALUE = FIRST_KEY + N_KEYS


def batch(args, B: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, list]:
    """B documents (B, (nseg + 1) * S), their targets (-100 except on each value token of a question:
    at "?" the value's first token, at each value token the next) and the address loss's targets
    (row, each statement's first value token's position, [("?" position, statement)])."""
    S, n, V = args.S, args.nseg, args.vtok
    L = args.ktok + args.gap + V  # one statement
    x = torch.full((B, (n + 1) * S), FILLER)
    y = torch.full_like(x, -100)
    targets = []
    for b in range(B):
        codes = torch.randperm(args.alpha ** args.ktok, generator=g)[:args.pairs]  # distinct keys
        frags = torch.stack([(codes // args.alpha ** i) % args.alpha for i in range(args.ktok)], 1) + FIRST_KEY
        vals = torch.randint(0, N_VALUES, (args.pairs, V), generator=g) + FIRST_VALUE
        stmt = torch.cat([frags, torch.full((args.pairs, args.gap), GAP), vals], 1)  # (pairs, L)
        slots = torch.randperm(n * S // L, generator=g)[:args.pairs] * L  # non-overlapping places
        for i in range(args.pairs):
            x[b, slots[i]:slots[i] + L] = stmt[i]
        order = torch.randperm(args.pairs, generator=g)
        Lq = args.ktok + 1 + V
        asks = []
        for j in range(min(args.pairs, S // Lq)):  # the questions' segment
            i, p0 = order[j], n * S + j * Lq
            q = p0 + args.ktok  # the "?"
            x[b, p0:q] = frags[i]
            x[b, q] = QUERY
            x[b, q + 1:q + 1 + V] = vals[i]
            y[b, q:q + V] = vals[i]
            asks.append((q, int(i)))
        targets.append((b, [int(slots[i]) + args.ktok + args.gap for i in range(args.pairs)], asks))
    return x, y, targets


def value_scores(logits: torch.Tensor, y: torch.Tensor, vtok: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Accuracy of each value token (vtok,) and the share of values right whole (a scalar), teacher-forced:
    a question's targets are its vtok value tokens in a row, so the masked targets come in runs of vtok."""
    mask = y != -100
    right = (logits.argmax(-1)[mask] == y[mask]).view(-1, vtok)
    return right.float().mean(0), right.all(1).float().mean()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--pairs", type=int, default=16)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--S", type=int, default=64, help="segment length")
    p.add_argument("--nseg", type=int, default=2, help="segments holding the statements")
    p.add_argument("--ktok", type=int, default=1, help="tokens per key")
    p.add_argument("--alpha", type=int, default=16, help="key fragments to draw from (ktok > 1)")
    p.add_argument("--gap", type=int, default=0, help="tokens between key and value")
    p.add_argument("--vtok", type=int, default=1, help="tokens per value")
    p.add_argument("--next-value", default="", help="comma-separated layers that write k_t -> v_{t+1}")
    p.add_argument("--conv", type=int, default=4, help="short conv kernel (0 = none)")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--d", type=int, default=128, help="d_model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--address", type=float, default=0.0, help="weight of the address loss (0 = off)")
    p.add_argument("--address-layers", default="1", help="comma-separated layers the address loss (and addr) looks at")
    args = p.parse_args()
    if args.ktok == 1:
        args.alpha = N_KEYS
    if args.alpha > N_KEYS or args.alpha ** args.ktok < args.pairs:
        p.error(f"--alpha must be at most {N_KEYS} and hold --pairs distinct keys")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    cfg = ModelConfig(vocab_size=FIRST_VALUE + N_VALUES, n_layer=args.layers, n_head=args.heads,
                      d_model=args.d, segment_len=args.S, short_conv=args.conv,
                      next_value_layers=[int(i) for i in args.next_value.split(",")] if args.next_value else None)
    model = InfiniTransformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1, betas=(0.9, 0.98))
    g = torch.Generator().manual_seed(args.seed)
    qk: list = []
    for i in map(int, args.address_layers.split(",")):
        model.blocks[i].attn.register_forward_pre_hook(lambda m, a: qk.append(m.projections(a[0])[:2]))
    t0, scores, addrs = time.time(), [], []
    for step in range(1, args.steps + 1):
        x, y, targets = batch(args, args.batch, g)
        for group in opt.param_groups:
            group["lr"] = args.lr * min(1.0, step / 50)
        qk.clear()
        logits, _ = model(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100)
        address, addr_acc = address_loss(qk, targets, 10.0)
        addrs.append(addr_acc)
        if args.address:
            loss = loss + args.address * address
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        scores.append(value_scores(logits.detach(), y, args.vtok))
        if step % 50 == 0:
            by_pos = torch.stack([s[0] for s in scores[-50:]]).mean(0)
            exact = sum(s[1].item() for s in scores[-50:]) / 50
            gates = [round(torch.sigmoid(b.attn.gate).mean().item(), 2) for b in model.blocks]
            print(json.dumps(dict(step=step, loss=round(loss.item(), 3), acc=round(by_pos.mean().item(), 3),
                                  by_pos=[round(a, 3) for a in by_pos.tolist()], exact=round(exact, 3),
                                  addr=round(sum(addrs[-50:]) / 50, 3), gates=gates,
                                  seconds=round(time.time() - t0))), flush=True)


if __name__ == "__main__":
    main()
