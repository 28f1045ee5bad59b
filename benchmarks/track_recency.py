"""Does a model track people by name, or answer the latest place written? From `docqa bench recall
... --json` outputs with tracking cells, per cell: how often the answer is the latest place in the
story, how often the model said the latest place, and how many trials it got right where the answer
is not the latest place (the trials recency cannot answer; docs/TRAINING.md, thirty-first session).

    python benchmarks/track_recency.py BENCH.json [BENCH.json ...]

The trials' stories are drawn again from the bench's seed (docqa.bench.haystack.trial_facts), so
no model runs; a trial's answer is the model's where the JSON lists it as a miss, else the right one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from docqa.bench.haystack import trial_facts, trial_rng


def recency(path: Path) -> list[str]:
    bench = json.loads(path.read_text())
    lines = []
    for c in (c for c in bench["cells"] if c["task"] == "track"):
        misses = {(m["question"], m["statement"]): m["got"] for m in c["misses"]}
        latest_is_answer = said_latest = keyed = 0
        for i in range(c["n"]):
            rng = trial_rng(bench["seed"], "track", c["split"], c["length"], c["depth"], i)
            story, ask, depths = trial_facts("track", rng, c["split"], None)
            latest = story[max(range(len(story)), key=lambda j: depths[j])][1][1]
            (question, answer), statement = story[ask][1], story[ask][0]
            got = misses.get((question, statement), answer)
            latest_is_answer += answer == latest
            said_latest += got == latest
            keyed += got == answer != latest
        n = c["n"]
        lines.append(f"{path.name} {c['split']} {c['length']}: exact {c['exact']:.2f}, the answer is the latest place "
                     f"{latest_is_answer / n:.2f}, said the latest place {said_latest / n:.2f}, right where the "
                     f"answer is not the latest {keyed} of {n - latest_is_answer}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    for path in ap.parse_args().files:
        print("\n".join(recency(path)))


if __name__ == "__main__":
    main()
