"""Recall benchmark: passkey exact-match by context length and needle depth, with a knockout.

Each cell is `docqa.train.evaluate.run_cell`: the question answered from the memory and from the
memory zeroed (knockout), the needle always before the question's segment. Fixed seeds throughout.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from docqa.model.base import LoadedModel
from docqa.train.evaluate import run_cell

DEPTHS = {"start": 0.0, "middle": 0.5, "end": 1.0}


@dataclass
class Cell:
    task: str
    length: int
    depth: str
    n: int
    exact: float  # exact-match of the whole answer
    digits: float  # fraction of answer characters right, position by position
    knockout_exact: float
    knockout_digits: float
    misses: list[dict] = field(default_factory=list)  # trial, answer and what came back, where exact is 0


def passkey_table(lm: LoadedModel, lengths: list[int], depths: list[str], n: int, seed: int = 0,
                  on_cell=None, contrast: float = 0.0) -> list[Cell]:
    cells = []
    for length in lengths:
        for name in depths:
            r = run_cell(lm, "passkey", length, DEPTHS[name], n, seed, contrast=contrast)
            cells.append(Cell("passkey", length, name, n, **r))
            if on_cell:
                on_cell(cells[-1])
    return cells


def facts_curve(lm: LoadedModel, counts: list[int], length: int, n: int, seed: int = 0,
                on_cell=None, contrast: float = 0.0) -> list[Cell]:
    cells = []
    for k in counts:
        r = run_cell(lm, "facts", length, 0.0, n, seed, n_facts=k, contrast=contrast)
        cells.append(Cell(f"facts={k}", length, "spread", n, **r))
        if on_cell:
            on_cell(cells[-1])
    return cells


def format_table(cells: list[Cell]) -> str:
    rows = ["| task | length | depth | n | exact | digits | knockout exact | knockout digits |",
            "|---|---|---|---|---|---|---|---|"]
    for c in cells:
        rows.append(f"| {c.task} | {c.length} | {c.depth} | {c.n} | {c.exact:.2f} | {c.digits:.2f} "
                    f"| {c.knockout_exact:.2f} | {c.knockout_digits:.2f} |")
    return "\n".join(rows)


def to_json(cells: list[Cell]) -> list[dict]:
    return [asdict(c) for c in cells]
