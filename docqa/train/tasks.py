"""Recall tasks on offline filler: passkeys and key-value facts hidden in earlier segments.

A task document is laid out exactly like a corpus stream followed by a question, as docqa sees
it when answering (see prompts/ask.txt):

    <|doc|>### {name}\n  filler ... NEEDLE ... filler  <|question|>{question}<|answer|>{answer}<|end|>

Only the answer (and <|end|>) is the recall target; the needle always ends in a segment
before the one where the question starts, so it can only be recalled through the memory.
"""

from __future__ import annotations

import ast
import functools
import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from docqa.model.tokenizer import ByteTokenizer

SIMPLE_FILLER = ("The grass is green. The sky is blue. The sun is yellow. "
                 "Here we go. There and back again. ")

NAMES = ["apple", "river", "falcon", "copper", "violet", "harbor", "maple", "orbit", "quartz",
         "tiger", "lemon", "canyon", "ember", "glacier", "willow", "comet", "saffron", "delta",
         "juniper", "onyx", "pepper", "sierra", "tundra", "walnut", "zephyr", "basil", "cobalt",
         "dune", "fable", "garnet", "hazel", "indigo"]

PASSKEY_FORMS = [
    ("The pass key is {v}. Remember it. {v} is the pass key. ", "What is the pass key?"),
]
FACT_FORMS = [
    ("The secret code for {k} is {v}. ", "What is the secret code for {k}?"),
    ("Remember: the code of {k} = {v}. ", "What is the code of {k}?"),
    ("{k} has the number {v}. ", "Which number does {k} have?"),
    ("Note that {k}'s passcode is {v}. ", "What is {k}'s passcode?"),
]


def digits(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


class Filler:
    """Haystack bytes: the paper's repeated sentences, real Python source, real English prose
    (the standard library's docstrings), or a mix. All of it is on any machine with Python."""

    def __init__(self, code_fraction: float = 0.0, prose_fraction: float = 0.0, root: Path | None = None,
                 max_files: int = 400):
        self.code_fraction = code_fraction  # the trainer raises both over a run
        self.prose_fraction = prose_fraction
        root = str(root or sysconfig.get_paths()["stdlib"])
        self._code = _code(root, max_files) if code_fraction > 0 else b""
        self._prose = _prose(root, max_files) if prose_fraction > 0 else b""
        self._simple = SIMPLE_FILLER.encode()

    def tokens(self, rng: random.Random, n: int) -> list[int]:
        """Exactly n byte tokens (n <= 0 gives none)."""
        if n <= 0:
            return []
        r = rng.random()
        if self._code and r < self.code_fraction:
            src = self._code
        elif self._prose and r < self.code_fraction + self.prose_fraction:
            src = self._prose
        else:
            src = self._simple
        if len(src) < n + 1:
            src = src * (n // len(src) + 2)
        start = rng.randrange(len(src) - n)
        return list(src[start:start + n])


@functools.lru_cache(maxsize=4)
def _sources(root: str, max_files: int) -> tuple[bytes, ...]:
    return tuple(p.read_bytes() for p in sorted(Path(root).glob("*.py"))[:max_files])


@functools.lru_cache(maxsize=4)
def _code(root: str, max_files: int) -> bytes:
    return b"\n".join(_sources(root, max_files))


@functools.lru_cache(maxsize=4)
def _prose(root: str, max_files: int) -> bytes:
    """Docstrings of more than 80 characters: English prose about code."""
    out = []
    for src in _sources(root, max_files):
        try:
            tree = ast.parse(src)
        except SyntaxError:  # a stdlib file for another Python version: no prose from it
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 80:
                    out.append(doc)
    return "\n\n".join(out).encode()


@dataclass
class TaskDoc:
    tokens: list[int]
    target: list[bool]  # True where the token is part of the answer to predict
    answer: str
    question_start: int  # index of <|question|>


def build_doc(tok: ByteTokenizer, rng: random.Random, filler: Filler, n_tokens: int, S: int,
              facts: list, ask: int, depths: list[float] | None = None) -> TaskDoc:
    """A document of n_tokens with the facts' needle texts at the given depths (fractions of the
    room before the question's segment), asking the question of facts[ask]."""
    header = tok.encode("<|doc|>### notes.txt\n", allow_special=True)
    question, answer = facts[ask][1]
    qa = (tok.encode(f"<|question|>{question}<|answer|>", allow_special=True)
          + tok.encode(answer) + tok.encode("<|end|>", allow_special=True))
    hay = n_tokens - len(header) - len(qa)
    limit = (len(header) + hay) // S * S - len(header)  # haystack before the question's segment
    needles = [tok.encode(f[0]) for f in facts]
    free = limit - sum(map(len, needles))
    if free < 0:
        raise ValueError(f"a document of {n_tokens} tokens is too short for its needles at S={S}")
    depths = depths if depths is not None else [rng.random() for _ in facts]
    body: list[int] = []
    used = 0  # filler tokens placed so far
    for i in sorted(range(len(facts)), key=lambda i: depths[i]):
        gap = int(depths[i] * free) - used
        body += filler.tokens(rng, gap) + needles[i]
        used += max(gap, 0)
    body += filler.tokens(rng, hay - len(body))
    tokens = header + body + qa
    n_ans = len(tok.encode(answer)) + 1  # the digits and <|end|>
    target = [False] * (len(tokens) - n_ans) + [True] * n_ans
    return TaskDoc(tokens, target, answer, len(header) + len(body))


def passkey_facts(rng: random.Random) -> list[tuple[str, tuple[str, str]]]:
    v = digits(rng)
    form, question = PASSKEY_FORMS[0]
    return [(form.format(v=v), (question, v))]


def kv_facts(rng: random.Random, n: int, varied: bool) -> list[tuple[str, tuple[str, str]]]:
    keys = rng.sample(NAMES, n)
    out = []
    for k in keys:
        v = digits(rng)
        form, question = rng.choice(FACT_FORMS) if varied else FACT_FORMS[0]
        out.append((form.format(k=k, v=v), (question.format(k=k), v)))
    return out


def sample_doc(tok: ByteTokenizer, rng: random.Random, filler: Filler, n_tokens: int, S: int,
               multi_fraction: float = 0.3, max_facts: int = 4) -> TaskDoc:
    """A training document: a passkey, or several key-value facts (varied phrasing) asking one."""
    room = (n_tokens // S - 1) * S - 32  # before the question's segment, less the header
    if rng.random() < multi_fraction and room >= 48:
        facts = kv_facts(rng, min(rng.randint(1, max_facts), room // 48), varied=True)
    else:
        facts = passkey_facts(rng)
    return build_doc(tok, rng, filler, n_tokens, S, facts, ask=rng.randrange(len(facts)))
