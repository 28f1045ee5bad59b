"""A fact in the pending tail: recalled when the question shares its segment, or only through memory?

    python benchmarks/bench_tail.py --model checkpoints/bpe-c2 --haystack runs/eval/prose --n 20

A corpus's last, unfinished segment (the pending tail) is not in the memory yet. Training always
stores a fact in a segment before the question's, so what matters is where answering puts the
tail. Two placements of the same question over the same ingested stream:
- aligned: only as much of the tail is written to memory as the question and a 6-token answer
  need to fit in one segment; the rest of the tail shares the question's segment (the rule of
  commit 31ec965);
- flushed: the whole tail is written first and the question opens a segment (the rule now in
  docqa.model.base.question_cut).
Cells: the needle hidden in the last tokens of the stream (inside the tail), or anywhere in it.
"""

from __future__ import annotations

import argparse
import random

import torch

from docqa.bench.haystack import Haystack
from docqa.memory import Memory
from docqa.model.base import ANSWER_RESERVE
from docqa.model.io import load_model
from docqa.prompt import question_tokens
from docqa.train.tasks import needle_facts


def aligned(pending: int, prompt: int, segment_len: int) -> int:
    over = pending + prompt + ANSWER_RESERVE - segment_len
    return over if over > 0 and prompt + ANSWER_RESERVE <= segment_len else 0


def flushed(pending: int, prompt: int, segment_len: int) -> int:
    return pending if prompt + ANSWER_RESERVE <= segment_len else 0


def answer(lm, memory: Memory, prompt: list[int], cut: int, max_new: int) -> str:
    """Greedy answer after writing the oldest `cut` pending tokens as a segment of their own."""
    head = Memory(memory.layers, memory.pending[:, :cut], memory.segments)
    written = lm.model.decoder(head).end_segment()
    decoder = lm.model.decoder(Memory(written.layers, memory.pending[:, cut:], written.segments))
    stops, out = set(lm.tokenizer.special_tokens.values()), []
    logits = decoder.feed(torch.tensor([prompt]))
    for _ in range(max_new):
        t = int(logits[0].argmax())
        if t in stops:
            break
        out.append(t)
        logits = decoder.feed(torch.tensor([[t]]))
    return lm.tokenizer.decode(out).strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--haystack", action="append", required=True)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--length", type=int, default=1024, help="full segments' worth of tokens before the tail")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    tok, S = lm.tokenizer, lm.config.segment_len
    hay = Haystack(lm, args.haystack)
    L = args.length // S * S + S - 1  # the longest tail there is
    print(f"model {lm.name}, S {S}, stream {L} tokens (tail {L % S}), split train, n {args.n}\n")
    print("| needle | aligned | flushed |\n|---|---|---|")
    for where in ("in the tail", "anywhere"):
        right = {"aligned": 0, "flushed": 0}
        for i in range(args.n):
            rng = random.Random(f"tail:{where}:{i}")
            statement, (question, expected) = needle_facts(rng, "train")[0]
            needle = tok.encode(statement)
            window = hay.window(rng, L - len(needle))
            lo = L // S * S if where == "in the tail" else 0
            pos = rng.randrange(lo, max(lo + 1, len(window) - 16))
            stream = window[:pos] + needle + window[pos:]
            with torch.no_grad():
                memory = lm.model.ingest(torch.tensor([stream]), lm.model.new_memory(1))
            prompt = question_tokens(tok, question)
            max_new = len(tok.encode(tok.answer_prefix + expected)) + 4
            for name, rule in (("aligned", aligned), ("flushed", flushed)):
                cut = rule(memory.pending.shape[1], len(prompt), S)
                right[name] += answer(lm, memory, prompt, cut, max_new) == expected
        print(f"| {where} | {right['aligned'] / args.n:.2f} | {right['flushed'] / args.n:.2f} |", flush=True)


if __name__ == "__main__":
    main()
