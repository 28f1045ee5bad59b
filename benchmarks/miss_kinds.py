"""What a recall bench's misses are: another stored value, the right value's first token only, or neither.

    python benchmarks/miss_kinds.py --model MODEL_DIR BENCH.json [BENCH.json ...]

Reads `docqa bench recall --haystack ... --json` outputs (no model run: each cell keeps its misses,
with what came back and every value stored in the trial) and sorts each miss, in this order:
  other value   the answer is another value the trial stored (the memory returned the wrong fact)
  first token   the answer starts with the right value's first token and goes wrong after it (the
                memory found the fact; the value's later tokens did not come back)
  neither       anything else: an eroded first token, a value from nowhere, nothing
Tokens are those of MODEL_DIR's tokenizer, each text encoded as an answer is (the tokenizer's
answer_prefix before it), and `first token` compares the first token of each that is not whitespace
alone: a digit answer opens with a bare ' ' token, the same for every number. A word's first token can
be a letter or two (' s' of 'scarlet'), so for words `first token` says less. Depths of one task, split
and length are summed. "first right" is exact + first token over the trials: how often the answer
started with the right value, whole or not.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

from docqa.model.io import load_model


def first_token(tok, text: str) -> int | None:
    """The first token of `text` encoded as an answer that is not whitespace alone; None if none is."""
    return next((i for i in tok.encode(tok.answer_prefix + text) if tok.decode([i]).strip()), None)


def kind(tok, miss: dict) -> str:
    """"other value", "first token" or "neither" for one miss (see the module's docstring)."""
    got, answer = miss["got"], miss["answer"]
    if got != answer and got in miss.get("stored", []):
        return "other value"
    first = first_token(tok, got)
    if first is not None and first == first_token(tok, answer):
        return "first token"
    return "neither"


def rows(tok, cells: list[dict]) -> list[dict]:
    """Per (task, split, length), depths summed: trials, exact, and the misses by kind."""
    out: dict[tuple, dict] = defaultdict(lambda: {"n": 0, "exact": 0, "other value": 0, "first token": 0,
                                                  "neither": 0})
    for c in cells:
        if "misses" not in c:
            raise SystemExit(f"a {c.get('task')} cell keeps no misses: give `docqa bench recall --haystack` outputs")
        r = out[(c["task"], c["split"], c["length"])]
        r["n"] += c["n"]
        r["exact"] += c["n"] - len(c["misses"])
        for m in c["misses"]:
            r[kind(tok, m)] += 1
    return [{"task": t, "split": s, "length": L, **r} for (t, s, L), r in out.items()]


def format_table(name: str, table: list[dict]) -> str:
    lines = [f"{name}", "", "| task | split | length | n | exact | other value | first token | neither | first right |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        n = r["n"]
        lines.append(f"| {r['task']} | {r['split']} | {r['length']} | {n} | {r['exact'] / n:.2f} | "
                     f"{r['other value'] / n:.2f} | {r['first token'] / n:.2f} | {r['neither'] / n:.2f} | "
                     f"{(r['exact'] + r['first token']) / n:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="the model whose tokenizer the bench ran with")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    tok = load_model(args.model).tokenizer
    for f in args.files:
        with open(f) as fh:
            cells = json.load(fh)["cells"]
        print(format_table(f, rows(tok, cells)))
        print()


if __name__ == "__main__":
    main()
