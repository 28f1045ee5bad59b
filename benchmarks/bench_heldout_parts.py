"""Which part of a held-out phrasing costs recall: the subject, the statement frame or the question?

    python benchmarks/bench_heldout_parts.py --haystack runs/eval/prose [--model DIR] [--length 1024] [--n 20]
    python benchmarks/bench_heldout_parts.py --haystack runs/eval/prose --facts 8 --length 8192
    python benchmarks/bench_heldout_parts.py --haystack runs/eval/prose --track --length 8192

With --facts K: K named facts spread through the text (as the bench's facts=K cell), one asked,
with the name, subject, statement frame and question each held out alone (six rows: all seen, each
part held out, all held out). With --track: tracking stories, with the people, the move frames and the
question each held out alone (five rows), and how often the answer was a place at all.

`docqa bench recall --haystack` holds out subject, statement frame and question together (each a
quarter of its list, docqa.train.phrasings). This runs the needle cell with each of the three
drawn from the training or the held-out share on its own: eight rows, from all seen (the bench's
"train" split) to all held out (its "heldout" split), the same haystack windows and values in
every row (trial i uses the same seed in each), exact match by greedy decoding through the
memory, as `docqa ask` answers. A diagnostic of where generalisation fails, not a recall claim.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from collections import Counter
from pathlib import Path
from statistics import mean

import torch

from docqa.bench.haystack import Haystack, greedy_answer, hide
from docqa.bench.recall import DEPTHS
from docqa.model.base import LoadedModel
from docqa.model.io import load_model
from docqa.train import phrasings as ph

PARTS = ("subject", "statement", "question")


def needle(rng: random.Random, splits: dict[str, str], frame: str | None = None):
    """(statement, question, answer) with each part from its own split (`frame`: this statement frame)."""
    s = rng.choice(ph.split(ph.SUBJECTS, splits["subject"]))
    st = rng.choice(ph.split(ph.STATEMENTS, splits["statement"]))
    st = st if frame is None else frame
    q = rng.choice(ph.split(ph.QUESTIONS, splits["question"]))
    v = ph.value(rng)
    return " " + st.format(s=s, v=v) + " ", q.format(s=s), v


@torch.no_grad()
def score(lm: LoadedModel, hay: Haystack, length: int, n: int, seed: int, parts: str, trial,
          misses: list | None = None) -> list[bool]:
    """Exact match of each of n trials: trial(rng) -> (facts, index asked, depths), drawn from
    Random(f"{seed}:{parts}:{i}"); the text from Random(f"{seed}:window:{i}"), the same in every row,
    so two rows (or two models) can be compared trial by trial. `misses`, when given, receives each
    wrong answer: its trial, the answer expected and given, and whether the text around the
    needle holds the given answer (a read of the wrong key) or not (a value from the model's prior)."""
    tok, S = lm.tokenizer, lm.config.segment_len
    limit = length // S * S
    right = []
    for i in range(n):
        window_rng, parts_rng = random.Random(f"{seed}:window:{i}"), random.Random(f"{seed}:{parts}:{i}")
        facts, ask, depths = trial(parts_rng)
        window = hay.window(window_rng, length)
        stream = hide(tok, window, facts, depths, limit)
        memory = lm.model.ingest(torch.tensor([stream]), lm.model.new_memory(1))
        question, answer = facts[ask][1]
        given = greedy_answer(lm, question, answer, memory)
        right.append(given == answer)
        if misses is not None and given != answer:
            misses.append({"trial": i, "expected": answer, "given": given,
                           "in_text": bool(given.strip()) and given in tok.decode(window[:limit])})
    return right


def exact(lm: LoadedModel, hay: Haystack, splits: dict[str, str], length: int, depth: str, n: int,
          seed: int = 0, frame: str | None = None, misses: list | None = None) -> list[bool]:
    def trial(rng):
        statement, question, answer = needle(rng, splits, frame)
        return [(statement, (question, answer))], 0, [DEPTHS[depth]]
    return score(lm, hay, length, n, seed, "parts", trial, misses)


FACT_PARTS = ("name", "subject", "statement", "question")


def named(rng: random.Random, k: int, splits: dict[str, str]) -> list:
    """k named facts sharing a subject (as docqa.train.tasks.named_facts), each part from its own split."""
    s = rng.choice(ph.split(ph.SUBJECTS, splits["subject"]))
    statements, questions = ph.split(ph.FACT_STATEMENTS, splits["statement"]), ph.split(ph.FACT_QUESTIONS, splits["question"])
    out = []
    for name in rng.sample(ph.split(ph.NAMES, splits["name"]), k):
        v = ph.value(rng)
        out.append((" " + rng.choice(statements).format(s=s, k=name, v=v) + " ",
                    (rng.choice(questions).format(s=s, k=name), v)))
    return out


def facts_exact(lm: LoadedModel, hay: Haystack, splits: dict[str, str], k: int, length: int, n: int,
                seed: int = 0) -> list[bool]:
    def trial(rng):
        facts = named(rng, k, splits)
        return facts, rng.randrange(k), [rng.random() for _ in facts]
    return score(lm, hay, length, n, seed, "facts", trial)


def facts_table(lm: LoadedModel, hay: Haystack, k: int, length: int, n: int, seed: int = 0) -> str:
    rows = ["| held out | exact |", "|---|---|"]
    for held in ("nothing", *FACT_PARTS, "all"):
        splits = {p: "heldout" if held in (p, "all") else "train" for p in FACT_PARTS}
        rows.append(f"| {held} | {mean(facts_exact(lm, hay, splits, k, length, n, seed)):.2f} |")
    return "\n".join(rows)


TRACK_PARTS = ("people", "moves", "question")


def tracking(rng: random.Random, splits: dict[str, str]) -> tuple[list, int]:
    """A story as the bench's track cell (docqa.train.tasks.tracking_facts: 3 people, 8 moves, the
    latest move of the one asked wins), its people, move frames and question each from its own split."""
    people = rng.sample(ph.split(ph.PEOPLE, splits["people"]), 3)
    moves, where = ph.split(ph.MOVES, splits["moves"]), ph.split(ph.WHERE, splits["question"])
    story, who = [], []
    for i in range(8):
        p = people[i] if i < 3 else rng.choice(people)
        l = rng.choice(ph.PLACES)
        story.append((" " + rng.choice(moves).format(p=p, l=l) + " ", (rng.choice(where).format(p=p), l)))
        who.append(p)
    asked = rng.choice(people)
    return story, max(i for i, p in enumerate(who) if p == asked)


def track_table(lm: LoadedModel, hay: Haystack, length: int, n: int, seed: int = 0) -> str:
    rows = ["| held out | exact | said a place |", "|---|---|---|"]
    for held in ("nothing", *TRACK_PARTS, "all"):
        splits = {p: "heldout" if held in (p, "all") else "train" for p in TRACK_PARTS}

        def trial(rng):
            story, ask = tracking(rng, splits)
            return story, ask, sorted(rng.random() for _ in story)
        wrong: list = []
        right = score(lm, hay, length, n, seed, "track", trial, wrong)
        places = sum(right) + sum(m["given"] in ph.PLACES for m in wrong)
        rows.append(f"| {held} | {mean(right):.2f} | {places / n:.2f} |")
    return "\n".join(rows)


def table(lm: LoadedModel, hay: Haystack, length: int, depth: str, n: int, seed: int = 0) -> str:
    rows = ["| subject | statement | question | exact |", "|---|---|---|---|"]
    for combo in itertools.product(("train", "heldout"), repeat=3):
        splits = dict(zip(PARTS, combo))
        rows.append(f"| {' | '.join(combo)} | {mean(exact(lm, hay, splits, length, depth, n, seed)):.2f} |")
    return "\n".join(rows)


def frame_table(lm: LoadedModel, hay: Haystack, length: int, depth: str, n: int, seed: int = 0,
                frames: list[str] | None = None, trials: dict | None = None, misses: dict | None = None) -> str:
    """Exact match per statement frame (`frames`, default every STATEMENTS entry), subject and
    question from the seen share. A frame in neither STATEMENTS share is marked "new". `trials`,
    when given, receives each frame's list of per-trial results, and `misses` its wrong answers (score)."""
    held, seen = set(ph.split(ph.STATEMENTS, "heldout")), set(ph.split(ph.STATEMENTS, "train"))
    rows = ["| statement frame | split | exact |", "|---|---|---|"]
    splits = dict.fromkeys(PARTS, "train")
    for frame in frames or ph.STATEMENTS:
        where = "heldout" if frame in held else "train" if frame in seen else "new"
        wrong = misses.setdefault(frame, []) if misses is not None else None
        right = exact(lm, hay, splits, length, depth, n, seed, frame, wrong)
        if trials is not None:
            trials[frame] = right
        rows.append(f"| {frame} | {where} | {mean(right):.2f} |")
    return "\n".join(rows)


def misses_table(misses: dict[str, list[dict]]) -> str:
    """Per frame: how many answers were wrong, how many of those the text held (the wrong key read),
    and the wrong answers given most often."""
    rows = ["| statement frame | wrong | given answer in the text | most given |", "|---|---|---|---|"]
    for frame, wrong in misses.items():
        common = Counter(m["given"] for m in wrong).most_common(3)
        rows.append(f"| {frame} | {len(wrong)} | {sum(m['in_text'] for m in wrong)} | "
                    + ", ".join(f"{g!r} x{c}" for g, c in common) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--haystack", required=True)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--depth", default="middle", choices=sorted(DEPTHS))
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--by-frame", action="store_true", help="also a row per statement frame")
    ap.add_argument("--facts", type=int, default=0, help="K named facts instead of one needle")
    ap.add_argument("--track", action="store_true",
                    help="tracking stories (3 people, 8 moves) instead of one needle: people, moves, question")
    ap.add_argument("--frame", action="append", default=[],
                    help="only the per-frame rows, for this statement frame ('{s}', '{v}'); repeatable")
    ap.add_argument("--trials", type=Path, default=None,
                    help="with --frame: write each frame's per-trial results here (JSON), to compare models")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    lm = load_model(a.model)
    if a.track:
        print(f"model {lm.name}, {a.length} tokens, tracking, n {a.n}\n")
        print(track_table(lm, Haystack(lm, [a.haystack]), a.length, a.n, a.seed))
        return
    if a.facts:
        print(f"model {lm.name}, {a.length} tokens, {a.facts} named facts, n {a.n}\n")
        print(facts_table(lm, Haystack(lm, [a.haystack]), a.facts, a.length, a.n, a.seed))
        return
    print(f"model {lm.name}, {a.length} tokens, needle at {a.depth}, n {a.n}\n")
    hay = Haystack(lm, [a.haystack])
    bad = [f for f in a.frame if "{s}" not in f or "{v}" not in f]
    if bad:
        raise SystemExit(f"--frame {bad[0]!r} needs both '{{s}}' and '{{v}}'")
    if a.frame:
        trials: dict = {}
        misses: dict = {}
        print(frame_table(lm, hay, a.length, a.depth, a.n, a.seed, a.frame, trials, misses))
        print("\n" + misses_table(misses))
        if a.trials:
            a.trials.write_text(json.dumps({"model": lm.name, "length": a.length, "depth": a.depth,
                                            "seed": a.seed, "trials": trials, "misses": misses}, indent=1))
        return
    print(table(lm, hay, a.length, a.depth, a.n, a.seed))
    if a.by_frame:
        print("\n" + frame_table(lm, hay, a.length, a.depth, a.n, a.seed))


if __name__ == "__main__":
    main()
