"""Recall on real text: needles, named facts and entity tracking hidden in documents streamed
from any folder through the real connectors.

Each trial takes a window of the folder's token stream (documents as `docqa ingest` streams
them: <|doc|>, header line, text), hides statements in it at sentence or line boundaries,
streams it into an empty memory, and asks the question with the `ask` template, exactly as
`docqa ask` would. Every cell is reported three ways: docqa's exact match, the same with the
memory zeroed (knockout: what the model answers from its weights alone), and the peer a user
would pick instead, SQLite FTS5 (BM25) over 512-byte chunks of the same text, counted right
when its top-1 chunk contains the answer. Phrasings and names come from the "train" or the
"heldout" lists of docqa.train.phrasings, reported separately. Statements always end before
the question's segment, so only the memory can carry them.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

import torch

from docqa.bench.fts import top1_contains
from docqa.bench.recall import DEPTHS
from docqa.errors import InputError
from docqa.ingest import documents
from docqa.model.base import LoadedModel, greedy_text
from docqa.prompt import document_tokens, question_tokens
from docqa.train import phrasings as ph
from docqa.train.tasks import Fact, named_facts, needle_facts, tracking_facts

SNAP = 48  # a statement moves forward at most this many tokens to the next line or sentence end


@dataclass
class HayCell:
    task: str  # "needle", "facts=K" or "track"
    split: str  # "train": phrasings and names seen in training; "heldout": never seen
    length: int  # tokens of text before the question
    depth: str  # start / middle / end, or "spread" (statements at random depths)
    n: int
    exact: float
    knockout: float
    fts: float  # FTS5 top-1 chunk (512 bytes) contains the answer
    # the trials docqa got wrong (memory on): statement, question, answer, what came back, and
    # every value stored in that trial in the order written, so a miss reads as eroded, another
    # fact's (the last written?), or neither
    misses: list[dict] = field(default_factory=list)


class Haystack:
    """The token stream of a folder (or files), read once; windows wrap around its end."""

    def __init__(self, lm: LoadedModel, paths: list[str], max_tokens: int = 4_000_000):
        ids: list[int] = []
        for doc in documents([str(p) for p in paths]):
            ids += document_tokens(lm.tokenizer, doc)
            if len(ids) >= max_tokens:
                break
        if len(ids) < 1024:
            raise InputError(f"{', '.join(map(str, paths))} holds only {len(ids)} tokens of text; "
                             "a haystack needs at least 1,024: point --haystack at a larger folder")
        self.tokens = torch.tensor(ids, dtype=torch.int32)

    def window(self, rng: random.Random, n: int) -> list[int]:
        start = rng.randrange(len(self.tokens))
        return self.tokens[(start + torch.arange(n)) % len(self.tokens)].tolist()  # no copy of the haystack


def _boundary(tok, window: list[int], pos: int, limit: int) -> int:
    """The first position at or after pos (and before limit) that follows a line break or a
    sentence end, so a statement does not land inside a word; pos itself if none is near."""
    for p in range(pos, min(pos + SNAP, limit)):
        if p == 0:
            return 0
        b = tok.token_bytes(window[p - 1]) or b""
        if b"\n" in b or b.endswith(b". ") or (b.endswith(b".") and (tok.token_bytes(window[p]) or b"").startswith(b" ")):
            return p
    return pos


def hide(tok, window: list[int], facts: list[Fact], depths: list[float], limit: int) -> list[int]:
    """Insert each fact's statement into the window at its depth (a fraction of `limit`, the
    room before the question's segment, less the statements themselves). Facts at equal
    depths keep their order."""
    needles = [tok.encode(f[0]) for f in facts]
    room = limit - sum(map(len, needles))
    if room < 0:
        raise InputError(f"{len(facts)} statements do not fit before the question at this length")
    out, taken = [], 0
    for i in sorted(range(len(facts)), key=lambda i: depths[i]):
        pos = max(taken, _boundary(tok, window, int(depths[i] * room), room))
        out += window[taken:pos] + needles[i]
        taken = pos
    return out + window[taken:len(window) - sum(map(len, needles))]


def trial_rng(seed: int, task: str, split: str, length: int, depth: str, i: int) -> random.Random:
    """The generator of trial i of a cell: its facts first (trial_facts), then its haystack window.
    One per trial, so a trial's facts depend on nothing but its name (benchmarks/frame_rates.py
    draws them again without the model or the haystack)."""
    return random.Random(f"{seed}:{task}:{split}:{length}:{depth}:{i}")


def trial_facts(task: str, rng: random.Random, split: str, depth: float | None):
    """(facts, index asked, depths) for one trial of a task."""
    if task == "needle":
        return needle_facts(rng, split), 0, [depth]
    if task.startswith("facts="):
        k = int(task.split("=")[1])
        facts = named_facts(rng, k, split)
        return facts, rng.randrange(k), [rng.random() for _ in facts]
    if task == "track":
        story, ask = tracking_facts(rng, 3, 8, split)
        return story, ask, sorted(rng.random() for _ in story)
    raise InputError(f"unknown haystack task {task!r}: use needle, facts=K or track")


def greedy_answer(lm: LoadedModel, question: str, answer: str, memory, contrast: float = 0.0) -> str:
    """The model's greedy answer to `question` from `memory`, as `docqa ask` gives it, with room
    for the expected `answer`'s tokens and 4 more (`contrast`: model.base.generate)."""
    tok = lm.tokenizer
    return greedy_text(lm, question_tokens(tok, question), memory, len(tok.encode(tok.answer_prefix + answer)) + 4,
                       contrast)


def cell_trial(tok, hay: Haystack, task: str, split: str, length: int, depth: str, seed: int, i: int,
               segment_len: int) -> tuple[list[int], str, str, str, list[str]]:
    """Trial i of a cell: (stream, question, answer, the asked statement, every value stored in the
    order written). The statements end before the question's segment."""
    rng = trial_rng(seed, task, split, length, depth, i)
    facts, ask, depths = trial_facts(task, rng, split, DEPTHS.get(depth))
    stream = hide(tok, hay.window(rng, length), facts, depths, length // segment_len * segment_len)
    question, answer = facts[ask][1]
    written = sorted(range(len(facts)), key=lambda j: depths[j])  # hide()'s order in the stream
    return stream, question, answer, facts[ask][0], [facts[j][1][1] for j in written]


@torch.no_grad()
def run_cell(lm: LoadedModel, hay: Haystack, task: str, split: str, length: int, depth: str,
             n: int, seed: int, batch: int = 8, contrast: float = 0.0) -> HayCell:
    tok, S = lm.tokenizer, lm.config.segment_len
    trials = [cell_trial(tok, hay, task, split, length, depth, seed, i, S) for i in range(n)]
    exact = knock = fts = 0
    misses = []
    device = lm.model.device
    for b in range(0, n, batch):
        group = trials[b:b + batch]
        memory = lm.model.ingest(torch.tensor([t[0] for t in group], device=device), lm.model.new_memory(len(group)))
        for j, (stream, question, answer, statement, stored) in enumerate(group):
            mem = memory.select(j)
            got = greedy_answer(lm, question, answer, mem, contrast)
            exact += got == answer
            if got != answer:
                misses.append({"statement": statement, "question": question, "answer": answer, "got": got,
                               "stored": stored})
            # knocked out, contrast has no memory to weigh against the prior: plain decoding, one pass
            knock += greedy_answer(lm, question, answer, mem.zero_()) == answer
            fts += top1_contains(tok.decode(stream), question, answer)
    return HayCell(task, split, length, depth, n, exact / n, knock / n, fts / n, misses)


def haystack_bench(lm: LoadedModel, hay: Haystack, lengths: list[int], depths: list[str],
                   facts: list[int], facts_length: int, splits: list[str], n: int, seed: int = 0,
                   track: bool = True, on_cell=None, contrast: float = 0.0) -> list[HayCell]:
    for split in splits:
        if facts and max(facts) > len(ph.split(ph.NAMES, split)):
            raise InputError(f"{max(facts)} named facts need as many distinct names; the {split} list has "
                             f"{len(ph.split(ph.NAMES, split))}: ask for fewer with --facts")
    plan = [("needle", s, L, d) for L in lengths for d in depths for s in splits]
    plan += [(f"facts={k}", s, facts_length, "spread") for k in facts for s in splits]
    plan += [("track", s, facts_length, "spread") for s in splits] if track else []
    cells = []
    for task, split, length, depth in plan:
        cells.append(run_cell(lm, hay, task, split, length, depth, n, seed, contrast=contrast))
        if on_cell:
            on_cell(cells[-1])
    return cells


def format_table(cells: list[HayCell]) -> str:
    rows = ["| task | split | length | depth | n | docqa exact | knockout | FTS5 top-1 |",
            "|---|---|---|---|---|---|---|---|"]
    rows += [f"| {c.task} | {c.split} | {c.length} | {c.depth} | {c.n} | {c.exact:.2f} | {c.knockout:.2f} "
             f"| {c.fts:.2f} |" for c in cells]
    return "\n".join(rows)


def to_json(cells: list[HayCell]) -> list[dict]:
    return [asdict(c) for c in cells]
