"""Is a needle linked by an unusual verb written weakly, or written under a key its question misses?

    python benchmarks/bench_link_keys.py --haystack runs/eval/prose [--model DIR] [--n 24]
    python benchmarks/bench_link_keys.py --haystack runs/eval/prose --frame 'The {s} reads {v}.' --frame ...

For each statement frame, n needles (a training subject, a digit value, the first training question)
go mid-way into the same windows of real text; the question's prompt follows the text. Per layer and
head: the write strength beta at the value's first informative token, and where its key ranks among
every key of the text for the memory query that predicts that token (`probe`: the training's
addressing), the median over trials of how many keys of the text are closer to the query. Rank 0 is
the value's key first. `--by` says closer how: "cos" by cosine; "neg" by minus the cosine, the way
round a layer trained with the address loss at address_sign -1 reads (a key along -q returns -v,
and the output turns it back); "abs" by its size, how strongly a key enters the read whichever way
round (under the l2 feature map the read is linear in the cosine). Queries and keys as `ingest`
computes them from an empty memory (docqa.model.center.memory_projections). A diagnostic of the
mechanism, not a recall claim.
"""

from __future__ import annotations

import argparse
import random
from statistics import median

import torch
import torch.nn.functional as F

from docqa.bench.haystack import Haystack, hide
from docqa.model.base import LoadedModel
from docqa.model.center import memory_projections
from docqa.model.io import load_model
from docqa.prompt import question_tokens
from docqa.train import phrasings as ph
from docqa.train.tasks import value_lead

FRAMES = ["The {s} is {v}.", "The {s} reads {v}.", "The {s} says {v}.", "The {s} goes by {v}.",
          "The {s} happens to be {v}."]


BY = {"cos": lambda c: c, "neg": lambda c: -c, "abs": torch.abs}


def rank(cos: torch.Tensor, at: int, by: str = "cos") -> int:
    """How many of the text's keys are nearer the query than the value's key at `at`, given each
    key's cosine with the query (T,), nearness as `by` says (BY)."""
    near = BY[by](cos)
    return int((near > near[at]).sum())


def probe(tok, stream: list[int], v: str, question: str) -> tuple[list[int], int]:
    """The tokens to project (the stream, the question's prompt, and the answer's tokens before its
    first informative one, as answering generates them) and the index in `stream` of the value's
    first informative token: the key the question's last query should find. These are the training's
    key and query (docqa.train.tasks.value_lead, query_offset): a value of digits is " " "482" "13",
    its key "482", read at the " " the model has just written after <|answer|>."""
    value = tok.encode(" " + v)
    at = next(p for p in range(len(stream)) if stream[p:p + len(value)] == value)
    answer = tok.encode(tok.answer_prefix + v)
    return stream + question_tokens(tok, question) + answer[:value_lead(tok, answer)], at + value_lead(tok, value)


@torch.no_grad()
def link_rows(lm: LoadedModel, hay: Haystack, frames: list[str], length: int, n: int,
              seed: int = 0, by: str = "cos") -> dict[str, list[tuple[float, float]]]:
    """frame -> per (layer, head), layer-major: (beta at the value's key, mean over trials; median rank of the key)."""
    tok, S = lm.tokenizer, lm.config.segment_len
    per: dict[str, list[list[tuple[float, int]]]] = {f: [] for f in frames}
    for i in range(n):
        rng = random.Random(f"{seed}:link:{i}")
        s, v = rng.choice(ph.split(ph.SUBJECTS, "train")), ph.value(rng, "digits")
        question = ph.split(ph.QUESTIONS, "train")[0].format(s=s)
        window = hay.window(random.Random(f"{seed}:window:{i}"), length)
        for frame in frames:
            stream = hide(tok, window, [(" " + frame.format(s=s, v=v) + " ", (question, v))], [0.5],
                          length // S * S)
            tokens, key = probe(tok, stream, v, question)
            row = []
            for q, k, beta in memory_projections(lm.model, torch.tensor([tokens], device=lm.model.device)):
                for h in range(beta.shape[1]):
                    cos = F.normalize(k[0, h, :len(stream)].double(), dim=-1) @ F.normalize(q[0, h, -1].double(), dim=-1)
                    row.append((float(beta[0, h, key]), rank(cos, key, by)))
            per[frame].append(row)
    return {f: [(sum(r[j][0] for r in rows) / len(rows), median(r[j][1] for r in rows))
                for j in range(len(rows[0]))] for f, rows in per.items()}


def table(rows: dict[str, list[tuple[float, float]]], n_head: int) -> str:
    heads = [f"{j // n_head}.{j % n_head}" for j in range(len(next(iter(rows.values()))))]
    out = ["| frame | " + " | ".join(f"{h} beta / rank" for h in heads) + " |",
           "|---|" + "---|" * len(heads)]
    for frame, cells in rows.items():
        out.append(f"| {frame} | " + " | ".join(f"{b:.3f} / {r:g}" for b, r in cells) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--haystack", required=True)
    ap.add_argument("--length", type=int, default=2048)
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frame", action="append", default=None, help="a statement frame ('{s}', '{v}'); repeatable")
    ap.add_argument("--by", choices=sorted(BY), default="cos",
                    help="rank keys by cosine, by minus the cosine (address_sign -1) or by its size")
    a = ap.parse_args()
    frames = a.frame or FRAMES
    bad = [f for f in frames if "{s}" not in f or "{v}" not in f]
    if bad:
        raise SystemExit(f"--frame {bad[0]!r} needs both '{{s}}' and '{{v}}'")
    torch.set_num_threads(1)
    lm = load_model(a.model)
    if not lm.config.write_strength:
        raise SystemExit(f"{lm.name} has no write strength (write_strength=False): nothing to measure")
    print(f"model {lm.name}, {a.length} tokens, needle in the middle, n {a.n}, seed {a.seed}, ranked by {a.by}\n")
    print(table(link_rows(lm, Haystack(lm, [a.haystack]), frames, a.length, a.n, a.seed, a.by), lm.config.n_head))


if __name__ == "__main__":
    main()
