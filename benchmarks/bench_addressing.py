"""Which stored fact does a question's read address? Per memory head, for named facts.

    python benchmarks/bench_addressing.py --model checkpoints/bpe-c2 --haystack runs/eval/prose --facts 4

Of N named facts sharing a subject ("The locker number of Tavelor is 482913."), the memory read
at the position that predicts the answer's first informative token returns, under the
token-level delta rule with unit keys, about sum_i (q . k_i) v_i over what was written, so the
fact it answers with is the one whose key best matches the query. The first informative token is
the value's first token, or its second where the first is the answer prefix alone (" " before the
digit group "482": the same for every value, predicted without the memory); the query is then
taken at that " " in the answer, teacher-forced. For each fact the key is the one written at that
informative token (whose value vector carries it; `--at last` or `--at after` take the value's
last token or the token after it instead).
Per layer and head the table gives how often the asked fact's key has the largest q . k of the N
and how often the smallest (chance 1/N each: a read along -k_i returns -v_i, which the output
projection can turn round, so a head that points its query away from the asked key addresses
too), the mean q . k of the asked fact and of the largest and smallest other one, and how often keys of
the N values are told apart at all (mean pairwise k_i . k_j). Keys and queries are taken after
the feature map (l2: unit vectors), from one forward pass over the text with the question
appended in a segment of its own, as `docqa ask` lays it out.
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
from docqa.train.tasks import named_facts, value_lead, value_span, word_keys


def framed_facts(rng: random.Random, n: int, split: str, frame: str, names: list[str]) -> list:
    """named_facts with every statement in one frame of ph.FACT_STATEMENTS (e.g. "{k}: {s} {v}.",
    the name nearest its value), to see whether addressing depends on that distance."""
    s = rng.choice(ph.split(ph.SUBJECTS, split))
    questions = ph.split(ph.FACT_QUESTIONS, split)
    out = []
    for k in rng.sample(names, n):
        v = ph.value(rng)
        out.append((" " + frame.format(s=s, k=k, v=v) + " ", (rng.choice(questions).format(s=s, k=k), v)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--haystack", action="append", required=True)
    ap.add_argument("--facts", type=int, default=4)
    ap.add_argument("--length", type=int, default=2048)
    ap.add_argument("--split", default="train")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--frame", type=int, default=None,
                    help="state every fact in this frame of docqa.train.phrasings.FACT_STATEMENTS (index)")
    ap.add_argument("--at", default="first", choices=["first", "last", "after"],
                    help="the value's first or last token, or the token after it, as the fact's write")
    ap.add_argument("--keys", default="names", choices=["names", "words"],
                    help="facts named by the split's names (2-4 tokens each) or by words of one token "
                         "each (the kv_words task's keys, all from training)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    tok, S = lm.tokenizer, lm.config.segment_len
    hay = Haystack(lm, args.haystack)
    layers = [m for m in lm.model.modules() if isinstance(m, InfiniAttention)]
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = [m.register_forward_pre_hook(lambda m, a: captured.append(m.projections(a[0])[:2])) for m in layers]
    sums: dict[tuple[int, int], list[float]] = {}
    names = list(word_keys(tok)) if args.keys == "words" else ph.split(ph.NAMES, args.split)
    try:
        for i in range(args.n):
            rng = random.Random(f"addressing:{args.facts}:{args.split}:{i}")
            facts = (named_facts(rng, args.facts, args.split, names=names) if args.frame is None
                     else framed_facts(rng, args.facts, args.split, ph.FACT_STATEMENTS[args.frame], names))
            ask = rng.randrange(args.facts)
            limit = args.length // S * S
            stream = hide(tok, hay.window(rng, limit), facts, [rng.random() for _ in facts], limit)
            firsts = []  # position of each fact's value's first informative token in the stream
            for statement, (_, value) in facts:
                needle = tok.encode(statement)
                at = next(p for p in range(len(stream)) if stream[p:p + len(needle)] == needle)
                off, val = value_span(tok, needle, value)
                if off < 0:
                    raise SystemExit(f"the value of {statement!r} is not tokens of its own in the statement")
                firsts.append(at + off + {"first": value_lead(tok, val), "last": len(val) - 1, "after": len(val)}[args.at])
            prompt = question_tokens(tok, facts[ask][1][0])
            # the answer as far as its first informative token, which the query at the last position predicts
            answer = tok.encode(tok.answer_prefix + facts[ask][1][1])
            prompt += answer[:value_lead(tok, answer)]
            captured.clear()
            with torch.no_grad():
                lm.model(torch.tensor([stream + prompt]))
            t = len(stream) + len(prompt) - 1
            for layer, (q, k) in enumerate(captured):
                q, k = F.normalize(q[0].float(), dim=-1), F.normalize(k[0].float(), dim=-1)  # (H, T, D)
                for h in range(q.shape[0]):
                    keys = k[h, firsts]  # (N, D)
                    score = keys @ q[h, t]  # (N,)
                    others = torch.cat([score[:ask], score[ask + 1:]])
                    pair = (keys @ keys.T)[~torch.eye(len(firsts), dtype=torch.bool)].mean()
                    row = [float(score.argmax() == ask), float(score.argmin() == ask), float(score[ask]),
                           float(others.max()), float(others.min()), float(pair)]
                    acc = sums.setdefault((layer, h), [0.0] * len(row))
                    for j, r in enumerate(row):
                        acc[j] += r / args.n
    finally:
        for hk in hooks:
            hk.remove()
    print(f"model {lm.name}, {args.facts} facts named by {args.keys} in {args.length} tokens of {', '.join(args.haystack)}, "
          f"split {args.split}, frame {'mixed' if args.frame is None else repr(ph.FACT_STATEMENTS[args.frame])}, keys at the value's {args.at} token, n {args.n} (chance {1 / args.facts:.2f})\n")
    print("| layer | head | asked fact's key best | asked key worst | q . k asked | q . k others (max / min) | k_i . k_j |")
    print("|---|---|---|---|---|---|---|")
    for (layer, h), r in sorted(sums.items()):
        print(f"| {layer} | {h} | {r[0]:.2f} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.2f} / {r[4]:.2f} | {r[5]:.2f} |")


if __name__ == "__main__":
    main()
