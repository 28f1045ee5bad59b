"""Do the memory's keys and queries carry a fact's name? Per layer and head, for named facts.

    python benchmarks/bench_name_keys.py --model docqa/models/default --haystack runs/eval/prose

A named fact can be recalled by name only if the key its value is written under (at the value's
first informative token, docqa.train.tasks.key_offset) depends on the name, and so does the query
the question reads with (at the token that predicts the answer's first informative token). Over
`--n` documents, each with two facts about names drawn from `--names` of the split's list (other
frame, value, subject and haystack every time), the table gives the mean cosine between the keys
of facts with the same name and with other names, the same for queries, and the cosine of each
query with the keys of its own name and of the others. Equal pairs mean the name is not there:
any address a read has then comes from something else (position, frame).
"""

from __future__ import annotations

import argparse
import random

import torch
import torch.nn.functional as F

from docqa.bench.haystack import Haystack, hide
from docqa.model.infini import InfiniAttention
from docqa.model.io import load_model
from docqa.prompt import question_tokens
from docqa.train import phrasings as ph
from docqa.train.tasks import key_offset, named_facts, value_lead


def same_and_other(a: list[tuple[str, torch.Tensor]], b: list[tuple[str, torch.Tensor]] | None = None):
    """Mean cosine over pairs with the same name and with different names: a, b lists of
    (name, unit vectors (..., D)); pairs within `a` (each once, none with itself) when b is None,
    else every pair of one from a and one from b. Returns (same, other), each (...)."""
    pairs = ([(a[i], a[j]) for i in range(len(a)) for j in range(i + 1, len(a))] if b is None
             else [(x, y) for x in a for y in b])
    same = [(x[1] * y[1]).sum(-1) for x, y in pairs if x[0] == y[0]]
    other = [(x[1] * y[1]).sum(-1) for x, y in pairs if x[0] != y[0]]
    return torch.stack(same).mean(0), torch.stack(other).mean(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--haystack", action="append", required=True)
    ap.add_argument("--names", type=int, default=6, help="how many of the split's names the facts use")
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--split", default="train")
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--at", type=int, default=0,
                    help="take each key this many tokens after the value's first informative token "
                         "(a write after the value may hold it: the short conv reaches back)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    tok = lm.tokenizer
    hay = Haystack(lm, args.haystack)
    layers = [m for m in lm.model.modules() if isinstance(m, InfiniAttention)]
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = [m.register_forward_pre_hook(lambda m, a: captured.append(m.projections(a[0])[:2])) for m in layers]
    names = ph.split(ph.NAMES, args.split)[:args.names]
    keys, queries = [], []  # (name, (L, H, D))
    try:
        for i in range(args.n):
            rng = random.Random(f"name-keys:{args.split}:{i}")
            facts = named_facts(rng, 2, args.split, names=names)
            statement, (question, value) = facts[0]
            name = next(n for n in names if f" {n}" in statement or statement.lstrip().startswith(n))
            stream = hide(tok, hay.window(rng, args.length), facts, [0.3, 0.6], args.length)
            needle = tok.encode(statement)
            at = next(p for p in range(len(stream)) if stream[p:p + len(needle)] == needle)
            key_at = at + key_offset(tok, needle, value) + args.at
            prompt = question_tokens(tok, question)
            answer = tok.encode(tok.answer_prefix + value)
            prompt += answer[:value_lead(tok, answer)]
            captured.clear()
            with torch.no_grad():
                lm.model(torch.tensor([stream + prompt]))
            t = len(stream) + len(prompt) - 1
            keys.append((name, torch.stack([F.normalize(k[0, :, key_at].float(), dim=-1) for _, k in captured])))
            queries.append((name, torch.stack([F.normalize(q[0, :, t].float(), dim=-1) for q, _ in captured])))
    finally:
        for hk in hooks:
            hk.remove()
    ks, ko = same_and_other(keys)
    qs, qo = same_and_other(queries)
    xs, xo = same_and_other(queries, keys)
    print(f"model {lm.name}, {args.n} facts about {args.names} names of the {args.split} split, "
          f"{args.length} tokens of {', '.join(args.haystack)}, keys {args.at} tokens after the value's first "
          "informative token: mean cosine, same name / other names\n")
    print("| layer | head | keys | queries | query . key |")
    print("|---|---|---|---|---|")
    for layer in range(ks.shape[0]):
        for h in range(ks.shape[1]):
            print(f"| {layer} | {h} | {ks[layer, h]:.3f} / {ko[layer, h]:.3f} | {qs[layer, h]:.3f} / {qo[layer, h]:.3f} "
                  f"| {xs[layer, h]:.3f} / {xo[layer, h]:.3f} |")


if __name__ == "__main__":
    main()
