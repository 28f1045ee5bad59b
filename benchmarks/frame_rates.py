"""Exact rate per statement frame and per question of the needle cells of `docqa bench recall
--haystack ... --json` outputs: which phrasings a model misses.

    python benchmarks/frame_rates.py A.json [B.json ...]

A bench JSON keeps only the misses, each with its statement and question; the trials it answered
are not written. Every trial's facts are drawn from a generator of their own
(docqa.bench.haystack.trial_rng), so they are drawn again here, without the model or the haystack,
and each is matched to the statement frame and question of phrasings.STATEMENTS and QUESTIONS it
was formatted from. Prints one markdown table, a row per frame, a column per file: exact rate and
the number of trials (over every needle cell of the file, seen and held-out apart).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from docqa.bench.haystack import trial_facts, trial_rng
from docqa.bench.recall import DEPTHS
from docqa.train import phrasings as ph


def _pattern(frame: str) -> re.Pattern:
    return re.compile(re.escape(frame).replace(r"\{s\}", "(?P<s>.+)").replace(r"\{v\}", ".+"))


STATEMENT_PATTERNS = [(f, _pattern(f)) for f in ph.STATEMENTS]
QUESTION_PATTERNS = [(f, _pattern(f)) for f in ph.QUESTIONS]


def frame_of(text: str, patterns) -> str:
    """The frame `text` was formatted from; of several that match ("What is the {s}?" also matches
    "What is the pass key I was given?"), the one whose subject is a known subject."""
    found = [f for f, p in patterns if (m := p.fullmatch(text.strip())) and m.group("s") in ph.SUBJECTS]
    if len(found) != 1:
        raise ValueError(f"{text!r} matches {len(found)} frames, not one")
    return found[0]


def rates(bench: dict) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(split, "statement" or "question", frame) -> (trials answered, trials) over the needle cells."""
    out: dict = defaultdict(lambda: [0, 0])
    for cell in bench["cells"]:
        if cell["task"] != "needle":
            continue
        missed = Counter((m["statement"], m["question"], m["answer"]) for m in cell["misses"])
        for i in range(cell["n"]):
            rng = trial_rng(bench["seed"], "needle", cell["split"], cell["length"], cell["depth"], i)
            facts, ask, _ = trial_facts("needle", rng, cell["split"], DEPTHS.get(cell["depth"]))
            statement, (question, answer) = facts[ask]
            right = missed[(statement, question, answer)] == 0
            if not right:
                missed[(statement, question, answer)] -= 1
            for part, frame in (("statement", frame_of(statement, STATEMENT_PATTERNS)),
                                ("question", frame_of(question, QUESTION_PATTERNS))):
                out[(cell["split"], part, frame)][0] += right
                out[(cell["split"], part, frame)][1] += 1
        if any(v > 0 for v in missed.values()):
            raise ValueError(f"a miss of the {cell['split']} {cell['length']} {cell['depth']} cell matches no trial "
                             "drawn again: a bench of another seed or another version")
    return {k: tuple(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args()
    tables = [rates(json.loads(f.read_text())) for f in args.files]
    keys = sorted(set().union(*tables))
    print("| split | part | frame | " + " | ".join(f.stem for f in args.files) + " |")
    print("|---|---|---|" + "---|" * len(args.files))
    for key in keys:
        cells = [f"{t[key][0] / t[key][1]:.2f} ({t[key][1]})" if key in t else "" for t in tables]
        print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
