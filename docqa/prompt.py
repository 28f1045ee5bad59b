"""What the model reads, laid out in one place: a document in the stream, a question, an answer.

    <|doc|>### path\\n text ... <|doc|>### path\\n text ...   (ingest: `document_tokens`)
    <|question|>{question}<|answer|>                         (prompts/ask.txt: `question_tokens`)
    answer<|end|>                                            (`answer_tokens`)

Ingest, answering, training and the benches all build their tokens with these functions, so
the layout a model is trained on is the layout it is asked in: an edit to prompts/ask.txt
reaches training too. Template text lives in prompts/ and nowhere else.

Imports no torch: the CLI reads the defaults here at startup.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from connectors.document import Document, header, header_line
from docqa.errors import InputError

DEFAULT_MAX_TOKENS = 64  # answer tokens unless told otherwise; answers about a corpus are short
MAX_PROMPT_SEGMENTS = 8  # a longer prompt would mostly reach the model through its own memory

_FIELD = re.compile(r"\{(\w+)\}")


def prompt_limit(segment_len: int) -> int:
    """The longest prompt, in tokens, for a model with segments of `segment_len`."""
    return MAX_PROMPT_SEGMENTS * segment_len


def template_names() -> list[str]:
    return sorted(p.name[:-4] for p in resources.files("prompts").iterdir() if p.name.endswith(".txt"))


def load_template(name_or_path: str) -> str:
    """A template by name (prompts/NAME.txt) or by file path."""
    path = Path(name_or_path)
    if path.suffix == ".txt" and path.is_file():
        return path.read_text(encoding="utf-8")
    res = resources.files("prompts") / f"{name_or_path}.txt"
    if not res.is_file():
        raise InputError(f"no template {name_or_path!r}; use one of {', '.join(template_names())} or a .txt path")
    return res.read_text(encoding="utf-8")


def render(tokenizer, template: str, **fields: str | list[int]) -> list[int]:
    """Template text may hold special tokens; field values given as text are always plain
    bytes. A field given as a list of token ids (an already rendered template) goes in as is."""
    ids: list[int] = []
    pos = 0
    for m in _FIELD.finditer(template):
        ids += tokenizer.encode(template[pos:m.start()], allow_special=True)
        if m.group(1) not in fields:
            raise InputError(f"template field {{{m.group(1)}}} has no value; give one of {sorted(fields)}")
        value = fields[m.group(1)]
        ids += value if isinstance(value, list) else tokenizer.encode(value)
        pos = m.end()
    return ids + tokenizer.encode(template[pos:], allow_special=True)


def question_tokens(tokenizer, question: str, template: str = "ask", **fields: str) -> list[int]:
    """The prompt that asks `question`: what answering feeds the model, and what training
    puts after a document."""
    return render(tokenizer, load_template(template), question=question, **fields)


def answer_tokens(tokenizer, answer: str) -> list[int]:
    """The answer a model is trained to give after the prompt, ending in <|end|>. Answering
    stops at <|end|> (or any special token) and strips the tokenizer's answer prefix."""
    return tokenizer.encode(tokenizer.answer_prefix + answer) + tokenizer.encode("<|end|>", allow_special=True)


def chat_prompt(tokenizer, question: str, history: list[tuple[str, str]], system: str = "",
                template: str = "chat", limit: int | None = None) -> list[int]:
    """A chat template filled with the earlier (question, answer) turns, each rendered with
    chat_turn.txt. With `limit`, the oldest turns are left out until the prompt fits."""
    text = load_template(template)
    if history and "{history}" not in text:
        raise InputError(f"template {template!r} has no {{history}} field, so it cannot hold "
                         f"the {len(history)} earlier turn(s) of this conversation")
    turn_t = load_template("chat_turn")
    turns = [render(tokenizer, turn_t, question=q, answer=a) for q, a in history]
    while True:
        ids = render(tokenizer, text, system=system, history=[t for turn in turns for t in turn], question=question)
        if limit is None or len(ids) <= limit or not turns:
            return ids
        turns = turns[1:]


def header_tokens(tokenizer, path: str) -> list[int]:
    """How a file at `path` opens in the stream: <|doc|> and its header line."""
    return tokenizer.encode("<|doc|>", allow_special=True) + tokenizer.encode(header_line(path))


def document_tokens(tokenizer, doc: Document) -> list[int]:
    """What a document adds to the stream: <|doc|>, its header line, then its text."""
    return documents_tokens(tokenizer, [doc])[0]


def documents_tokens(tokenizer, docs: list[Document]) -> list[list[int]]:
    """`document_tokens` of many documents, encoded as one batch (in parallel for BPE)."""
    mark = tokenizer.encode("<|doc|>", allow_special=True)
    heads = tokenizer.encode_batch([header(d) for d in docs])
    bodies = tokenizer.encode_batch([d.text for d in docs])
    return [mark + h + b for h, b in zip(heads, bodies)]
