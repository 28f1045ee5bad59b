"""Recall tasks on offline filler: passkeys and key-value facts hidden in earlier segments.

A task document is laid out exactly like a corpus stream followed by a question, as docqa sees
it when answering, and built by the same functions (docqa.prompt, with prompts/ask.txt):

    <|doc|>### {name}\n  filler ... NEEDLE ... filler  <|question|>{question}<|answer|>{answer}<|end|>

Only the answer (and <|end|>) is the recall target; the needle always ends in a segment
before the one where the question starts, so it can only be recalled through the memory.
"""

from __future__ import annotations

import functools
import random
import sysconfig
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from connectors.document import Document
from docqa.model.tokenizer import ByteTokenizer
from docqa.prompt import answer_tokens, documents_tokens, header_tokens, question_tokens
from docqa.train.codefacts import CodeFact, code_facts, facts_in, rename_subjects, top_level_chunks
from docqa.train import phrasings as ph
from docqa.train.corpus import docstrings

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


# Room a named fact takes in a "kv" document: its statement (12-25 tokens with the BPE
# vocabulary) and a little filler around it.
KV_FACT_TOKENS = 24


def digits(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


class Filler:
    """Haystack tokens: the paper's repeated sentences, real code, real English prose, or a mix.

    By default code is the standard library's source and prose its docstrings (on any machine
    with Python); `texts` (from `docqa.train.corpus.load_texts`) replaces both pools with the
    full training text. Pools are held as int32 tensors: tens of millions of tokens fit.
    """

    def __init__(self, tok=None, code_fraction: float = 0.0, prose_fraction: float = 0.0,
                 root: Path | None = None, max_files: int = 400, texts: list | None = None):
        self.tok = tok or ByteTokenizer()
        self.code_fraction = code_fraction  # the trainer raises both over a run
        self.prose_fraction = prose_fraction
        # share of draws cut into short documents, each behind its header (short_documents)
        self.short_docs = 0.0
        # short documents each drawn from a place of their own (a folder of unrelated files, and
        # text that jumps at every header), not one draw cut into files
        self.short_docs_apart = False
        # share of those apart files whose text is key-value header lines (the "fields" pool: Debian
        # copyright files, the standard library's test mails) that no question asks about: a folder
        # of package metadata is mostly such files, and a layer that writes every "Name: value" as a
        # fact wears out the one fact asked for (docs/TRAINING.md, forty-second session)
        self.field_docs = 0.0
        # one period of the simple filler, no separator: `tokens` repeats it, so bytes give
        # exactly the November filler (and the published synthetic tables stay comparable)
        self.pools: dict[str, torch.Tensor] = {"simple": torch.tensor(self.tok.encode(SIMPLE_FILLER), dtype=torch.int32)}
        if texts is not None:
            for kind in ("code", "prose", "fields"):
                chosen = [t.text for t in texts if t.kind == kind]
                if chosen:
                    self.pools[kind] = self._encode(chosen)
        else:
            root = str(root or sysconfig.get_paths()["stdlib"])
            if code_fraction > 0:
                self.pools["code"] = self._encode([s.decode("utf-8", "replace") for s in _sources(root, max_files)])
            if prose_fraction > 0:
                self.pools["prose"] = self._encode(_prose(root, max_files))

    def synthetic(self) -> Filler:
        """This filler's simple pool alone: the model's own synthetic filler, as the bench's
        synthetic passkey table streams it (the `passkey_synthetic` task and its gap)."""
        f = Filler(self.tok)
        f.pools = {"simple": self.pools["simple"]}
        f.short_docs, f.short_docs_apart = self.short_docs, self.short_docs_apart
        return f  # field_docs stays 0: the synthetic filler is the simple pool alone

    def save(self, path: Path) -> None:
        """The encoded pools, to reload without reading and tokenizing the text again."""
        tmp = Path(path).with_suffix(".tmp")
        save_file({k: v.contiguous() for k, v in self.pools.items()}, str(tmp))
        tmp.replace(path)  # whole or absent, never half-written

    @classmethod
    def load(cls, path: Path, tok, code_fraction: float = 0.0, prose_fraction: float = 0.0) -> Filler:
        f = cls(tok, code_fraction=0.0, prose_fraction=0.0)
        f.code_fraction, f.prose_fraction = code_fraction, prose_fraction
        f.pools = load_file(str(path))
        if max(int(v.max()) for v in f.pools.values()) >= tok.vocab_size:
            raise ValueError(f"{path} was encoded with another tokenizer (ids beyond its {tok.vocab_size})")
        return f

    def _encode(self, texts: list[str]) -> torch.Tensor:
        ids: list[int] = []
        for part in self.tok.encode_batch([t + "\n\n" for t in texts]):
            ids += part
        return torch.tensor(ids, dtype=torch.int32)

    def tokens(self, rng: random.Random, n: int) -> list[int]:
        """Exactly n tokens (n <= 0 gives none): on `short_docs` of the draws, short documents."""
        return self.marked_tokens(rng, n)[0]

    def marked_tokens(self, rng: random.Random, n: int) -> tuple[list[int], list[tuple[int, int]]]:
        """`tokens`' draw (the same tokens for the same rng), with the (start, end) in them of every
        field file's text (`field_docs`): the unasked key-value lines, for TaskDoc.unasked."""
        if n <= 0:
            return [], []
        if self.short_docs and rng.random() < self.short_docs:  # no draw at 0: older runs replay
            return self.short_documents(rng, n)
        return self._run(rng, n), []

    def short_documents(self, rng: random.Random, n: int) -> tuple[list[int], list[tuple[int, int]]]:
        """Exactly n tokens of files 20-300 tokens long, each behind <|doc|> and its header line as
        `docqa ingest` streams a folder of small files (notes, short modules): a fact stays in its
        file, with headers before and after it. The text is one draw of the pools, cut; with
        `short_docs_apart` each file is a draw of its own, from its own place (and pool), as the
        files of a real folder are: the text jumps at every header; `field_docs` of those files are
        key-value header lines from the "fields" pool, whose (start, end) come back beside the tokens."""
        body, out, used = [] if self.short_docs_apart else self._run(rng, n), [], 0
        fields: list[tuple[int, int]] = []
        while len(out) < n:  # each file adds its header too, so the body outlasts the loop
            take = rng.randint(20, 300)
            out += header_tokens(self.tok, file_name(rng))
            if self.short_docs_apart:
                text, is_field = self._file_text(rng, take)
                if is_field and len(out) < n:
                    fields.append((len(out), min(len(out) + take, n)))
                out += text
            else:
                out += body[used:used + take]
            used += take
        return out[:n], fields

    def _file_text(self, rng: random.Random, n: int) -> tuple[list[int], bool]:
        """A file's text, and whether it is a field file."""
        if self.field_docs and rng.random() < self.field_docs:  # no draw at 0: older runs replay
            if "fields" not in self.pools:
                raise ValueError("field_docs draws from the \"fields\" pool, and this filler has none: "
                                 "build it from load_texts(kinds=(..., \"fields\"))")
            return self._draw(self.pools["fields"], rng, n), True
        return self._run(rng, n), False

    def _run(self, rng: random.Random, n: int) -> list[int]:
        r = rng.random()
        if "code" in self.pools and r < self.code_fraction:
            src = self.pools["code"]
        elif "prose" in self.pools and r < self.code_fraction + self.prose_fraction:
            src = self.pools["prose"]
        else:
            src = self.pools["simple"]
        return self._draw(src, rng, n)

    @staticmethod
    def _draw(src: torch.Tensor, rng: random.Random, n: int) -> list[int]:
        if len(src) < n + 1:
            src = src.repeat(n // len(src) + 2)
        start = rng.randrange(len(src) - n)
        return src[start:start + n].tolist()


def file_name(rng: random.Random) -> str:
    """A made-up relative path ("notes/qzvfe.md"): letters only, so no digit of an answer can come
    from a header."""
    def word() -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10)))
    folder = f"{word()}/" if rng.random() < 0.5 else ""
    return folder + word() + rng.choice((".txt", ".md", ".rst", ".py", ""))


@functools.lru_cache(maxsize=4)
def _sources(root: str, max_files: int) -> tuple[bytes, ...]:
    return tuple(p.read_bytes() for p in sorted(Path(root).glob("*.py"))[:max_files])


@functools.lru_cache(maxsize=4)
def _prose(root: str, max_files: int) -> tuple[str, ...]:
    """Docstrings of more than 80 characters: English prose about code."""
    return tuple("\n\n".join(d) for src in _sources(root, max_files) if (d := docstrings(src)))


Fact = tuple[str, tuple[str, str]]  # (statement in the haystack, (question, answer))


@dataclass
class TaskDoc:
    tokens: list[int]
    target: list[bool]  # True where the token is part of the answer to predict
    answer: str
    question_start: int  # index of <|question|>
    answer_start: int  # index of the first answer token: tokens[question_start:answer_start] is the prompt
    task: str = ""
    # Where each fact is addressed, for TrainConfig.address_weight: the index of each fact's key
    # token in `tokens` (its value's first informative token, see value_lead; -1 where the value
    # is not found as tokens of the statement), and for each question the index of the token whose
    # memory read predicts that token in the answer, with the asked fact's number.
    keys: tuple[int, ...] = ()
    asks: tuple[tuple[int, int], ...] = ()
    # For the value-write loss (TrainConfig.value_write_span, value_write_negatives): where each
    # fact's value ends (one past its last token; -1 with its key), and the (start, end) of each
    # fact's statement in `tokens`.
    value_ends: tuple[int, ...] = ()
    statements: tuple[tuple[int, int], ...] = ()
    # (start, end) in `tokens` of the field files' text in the haystack (Filler.field_docs): key-value
    # lines no question asks, for TrainConfig.unasked_write_weight
    unasked: tuple[tuple[int, int], ...] = ()


def value_lead(tok, val: list[int]) -> int:
    """Tokens of the answer prefix alone at the start of an encoded value: 1 where the prefix is a
    token of its own (" " before the digit group "016"), else 0 (" grape" is one token). That
    token is the same for every value, so it is predicted without the memory; the first token
    that tells values apart comes after it, and that is where a read must be addressed."""
    return int(len(val) > 1 and tok.decode(val[:1]) == tok.answer_prefix)


def value_span(tok, needle: list[int], value: str, bare: bool = False) -> tuple[int, list[int]]:
    """The value's tokens as an answer gives them, and their index in a statement's tokens: -1 where
    the statement's tokens do not hold them (BPE merged the value with a neighbour). `bare`: the
    statement holds the value without the answer's leading space (code: "def f(url, retries):"),
    so the tokens looked for are the value's own."""
    val = tok.encode(value if bare else tok.answer_prefix + value)
    return next((j for j in range(len(needle) - len(val) + 1) if needle[j:j + len(val)] == val), -1), val


def key_offset(tok, needle: list[int], value: str) -> int:
    """The index in a statement's tokens of its value's first informative token, or -1 (value_span)."""
    at, val = value_span(tok, needle, value)
    return at + value_lead(tok, val) if at >= 0 else -1


def query_offset(tok, answer: str) -> int:
    """The index, counted from the answer's first token, of the token that predicts the answer's
    first informative token (-1: the last prompt token, <|answer|>)."""
    return value_lead(tok, tok.encode(tok.answer_prefix + answer)) - 1


def needle_room(n_tokens: int, S: int, header: int, question: int) -> int:
    """Tokens of a document of n_tokens that lie before its question's segment, less the header:
    the room for needles and filler, given the header's and the question's (with its answer) length."""
    return (n_tokens - question) // S * S - header


def build_doc(tok, rng: random.Random, filler: Filler, n_tokens: int, S: int, facts: list[Fact], ask: int,
              depths: list[float] | None = None, path: str = "notes.txt", task: str = "",
              bare_values: bool = False) -> TaskDoc:
    """A document of n_tokens with the facts' needle texts at the given depths (fractions of the
    room before the question's segment), asking the question of facts[ask]. Facts at equal
    depths keep their order, so a story told in order stays in order. `bare_values`: the
    statements hold their values without a leading space (value_span), as code does."""
    header = header_tokens(tok, path)
    prompt, ans = qa_tokens(tok, *facts[ask][1])
    hay = n_tokens - len(header) - len(prompt) - len(ans)
    limit = needle_room(n_tokens, S, len(header), len(prompt) + len(ans))
    needles = [tok.encode(f[0]) for f in facts]
    free = limit - sum(map(len, needles))
    if free < 0:
        raise ValueError(f"a document of {n_tokens} tokens is too short for its needles at S={S}")
    depths = depths if depths is not None else [rng.random() for _ in facts]
    body: list[int] = []
    used = 0  # filler tokens placed so far
    keys, ends, statements = [-1] * len(facts), [-1] * len(facts), [(0, 0)] * len(facts)
    unasked: list[tuple[int, int]] = []

    def fill(n: int) -> None:
        at = len(header) + len(body)
        text, fields = filler.marked_tokens(rng, n)
        unasked.extend((at + a, at + b) for a, b in fields)
        body.extend(text)

    for i in sorted(range(len(facts)), key=lambda i: depths[i]):
        gap = int(depths[i] * free) - used
        fill(gap)
        start = len(header) + len(body)
        at, val = value_span(tok, needles[i], facts[i][1][1], bare_values)
        if at >= 0:
            keys[i], ends[i] = start + at + value_lead(tok, val), start + at + len(val)
        body += needles[i]
        statements[i] = (start, start + len(needles[i]))
        used += max(gap, 0)
    fill(hay - len(body))
    tokens = header + body + prompt + ans
    target = [False] * (len(tokens) - len(ans)) + [True] * len(ans)
    q = len(header) + len(body)
    a = q + len(prompt)
    return TaskDoc(tokens, target, facts[ask][1][1], q, a, task, tuple(keys),
                   ((a + query_offset(tok, facts[ask][1][1]), ask),), tuple(ends), tuple(statements),
                   tuple(unasked))


def qa_tokens(tok, question: str, answer: str) -> tuple[list[int], list[int]]:
    """A question as the answer prompt renders it, and the answer the model is trained to give."""
    return question_tokens(tok, question), answer_tokens(tok, answer)


def ask_more(tok, doc: TaskDoc, facts: list[Fact], extra: list[tuple[int, list[int], list[int]]]) -> TaskDoc:
    """Further questions after the first answer: (i, prompt, answer) asks facts[i] with the prompt and
    answer tokens of its qa_tokens, each answer a target. As in MQAR (Zoology), asking several of a
    document's facts gives each document several recall targets; an answer already given names
    another fact's key, so it tells nothing about the next one."""
    tokens, target, asks = list(doc.tokens), list(doc.target), list(doc.asks)
    for i, prompt, ans in extra:
        asks.append((len(tokens) + len(prompt) + query_offset(tok, facts[i][1][1]), i))
        tokens += prompt + ans
        target += [False] * len(prompt) + [True] * len(ans)
    return replace(doc, tokens=tokens, target=target, asks=tuple(asks))


def fit_facts(tok, facts: list[Fact], asks: list[int], n_tokens: int,
              S: int) -> tuple[list[Fact], int, list[tuple[int, list[int], list[int]]]]:
    """Cut a document's facts until their statements fit the room build_doc gives them before the
    questions: unasked facts go first, the last one first, then the last further question with its
    fact. `asks`: the facts asked, asks[0] by build_doc and the rest by ask_more. Returns the facts
    kept, the index asked first and the further questions (index, prompt, answer) for ask_more.
    The facts task sizes a document at 40 tokens a fact, which composed frames (composed_fact_frames)
    can outgrow; the kv task fills its room with facts and relies on this cut. Draws nothing."""
    header = len(header_tokens(tok, "notes.txt"))
    lengths = [len(tok.encode(f[0])) for f in facts]
    qa = {i: qa_tokens(tok, *facts[i][1]) for i in asks}
    keep, asks = list(range(len(facts))), list(asks)
    while len(keep) > 1:
        more = sum(len(p) + len(a) for p, a in (qa[i] for i in asks[1:]))
        first = len(qa[asks[0]][0]) + len(qa[asks[0]][1])
        if sum(lengths[i] for i in keep) <= needle_room(n_tokens - more, S, header, first):  # as build_doc's
            break
        unasked = [i for i in keep if i not in asks]
        keep.remove(unasked[-1] if unasked else asks.pop())
    where = {i: j for j, i in enumerate(keep)}
    return [facts[i] for i in keep], where[asks[0]], [(where[i], *qa[i]) for i in asks[1:]]


def asking_doc(tok, rng: random.Random, filler: Filler, n_tokens: int, S: int, facts: list[Fact],
               asks: list[int], task: str) -> TaskDoc:
    """A document of n_tokens holding the facts that fit (fit_facts) and asking those of `asks` kept."""
    facts, first, extra = fit_facts(tok, facts, asks, n_tokens, S)
    more = sum(len(p) + len(a) for _, p, a in extra)
    return ask_more(tok, build_doc(tok, rng, filler, n_tokens - more, S, facts, first, task=task), facts, extra)


def passkey_facts(rng: random.Random) -> list[Fact]:
    v = digits(rng)
    form, question = PASSKEY_FORMS[0]
    return [(form.format(v=v), (question, v))]


def kv_facts(rng: random.Random, n: int, varied: bool) -> list[Fact]:
    keys = rng.sample(NAMES, n)
    out = []
    for k in keys:
        v = digits(rng)
        form, question = rng.choice(FACT_FORMS) if varied else FACT_FORMS[0]
        out.append((form.format(k=k, v=v), (question.format(k=k), v)))
    return out


def _subject(rng: random.Random, split: str, open_subjects: float) -> str:
    """A subject from the split's list or, for training and with chance `open_subjects`, an open one."""
    if split == "train" and open_subjects and rng.random() < open_subjects:
        return ph.open_subject(rng)
    return rng.choice(ph.split(ph.SUBJECTS, split))


def subjects_apart(rng: random.Random, n: int, split: str, open_subjects: float = 0.0) -> list[str]:
    """n distinct subjects, each drawn as _subject draws one."""
    out: list[str] = []
    while len(out) < n:
        s = _subject(rng, split, open_subjects)
        if s not in out:
            out.append(s)
    return out


def needle_facts(rng: random.Random, split: str = "train", kind: str | None = None,
                 open_subjects: float = 0.0, open_frames: float = 0.0, composed_frames: float = 0.0,
                 composed_questions: float = 0.0, wide_links: float = 0.0, subject: str | None = None) -> list[Fact]:
    """One needle: a subject, a statement frame and a question frame from the split's lists; for
    training and with chance `open_frames`, a frame of phrasings.TRAIN_ONLY_STATEMENTS, else with
    chance `composed_frames` one of phrasings.composed_statement (`wide_links` of whose links are
    verbs of phrasings.WIDE_LINKS); and with chance `composed_questions` a question of
    phrasings.composed_question. `subject` replaces the drawn subject (subjects_apart)."""
    s = subject if subject is not None else _subject(rng, split, open_subjects)
    v = ph.value(rng, kind)
    frames = ph.split(ph.STATEMENTS, split)
    if split == "train" and open_frames and rng.random() < open_frames:
        frames = ph.TRAIN_ONLY_STATEMENTS
    elif split == "train" and composed_frames and rng.random() < composed_frames:
        frames = [ph.composed_statement(rng, wide_links)]
    st, q = rng.choice(frames), rng.choice(ph.split(ph.QUESTIONS, split))
    if split == "train" and composed_questions and rng.random() < composed_questions:  # no draw when 0: runs replay
        q = ph.composed_question(rng)
    return [(" " + st.format(s=s, v=v) + " ", (q.format(s=s), v))]


@functools.lru_cache(maxsize=4)  # keyed by the tokenizer object, which a run keeps to its end
def word_keys(tok) -> tuple[str, ...]:
    """Lower-case words of 4-9 letters that the tokenizer encodes as one token after a space: keys
    of the single-token kind that associative recall learns first (Zoology's MQAR). No name of
    phrasings.NAMES is one BPE token ("Tavelor" is ' T' 'ave' 'l' 'or'), so the kv task's keys are
    all fragmented; kv_words teaches the addressing on whole-token keys first."""
    out = []
    for i in range(tok.vocab_size):
        word = tok.decode([i])
        if word.startswith(" ") and 4 <= len(word) - 1 <= 9 and word[1:].isalpha() and word[1:].islower():
            if tok.encode(word) == [i]:
                out.append(word[1:])
    return tuple(out)


def named_facts(rng: random.Random, n: int, split: str = "train", kind: str | None = None,
                open_subjects: float = 0.0, names: list[str] | None = None,
                composed: float = 0.0, open_names: float = 0.0, wide_links: float = 0.0) -> list[Fact]:
    """n facts about distinct names that share one subject, so only the name tells them apart.
    `names` replaces the split's list of names (kv_words: one token each). For training, each
    fact's statement and its question are, each with chance `composed`, a composed frame
    (phrasings.composed_fact_statement, COMPOSED_FACT_QUESTIONS) instead of the split's, and each
    name, with chance `open_names`, a made-up one (phrasings.open_name; not with `names`)."""
    own_names = names is None
    names = ph.split(ph.NAMES, split) if names is None else names
    if n > len(names):
        raise ValueError(f"{n} named facts need {n} distinct names; the {split} list has {len(names)}")
    s = _subject(rng, split, open_subjects)
    statements, questions = ph.split(ph.FACT_STATEMENTS, split), ph.split(ph.FACT_QUESTIONS, split)
    keys = rng.sample(names, n)
    if split == "train" and open_names and own_names:  # no draw without it: earlier runs' data stays the same
        for i in range(n):
            if rng.random() < open_names:
                new = ph.open_name(rng)
                while new in keys:
                    new = ph.open_name(rng)
                keys[i] = new
    out = []
    for k in keys:
        v = ph.value(rng, kind)
        st, q = rng.choice(statements), rng.choice(questions)
        if split == "train" and composed:  # no draw without it: earlier runs' data stays the same
            if rng.random() < composed:
                st = ph.composed_fact_statement(rng, wide_links)
            if rng.random() < composed:
                q = rng.choice(ph.COMPOSED_FACT_QUESTIONS)
        out.append((" " + st.format(s=s, k=k, v=v) + " ", (q.format(s=s, k=k), v)))
    return out


def tracking_facts(rng: random.Random, n_people: int, n_moves: int, split: str = "train",
                   composed: float = 0.0, wide_moves: float = 0.0, open_people: float = 0.0) -> tuple[list[Fact], int]:
    """bAbI task 1: people move between places; the question asks where one of them is, and
    the latest move wins. Returns the moves in story order and the index of the one to ask. In
    training, each move and each question is, with chance `composed`, a composed one
    (phrasings.composed_move, `wide_moves` of those with a wide verb; composed_where) instead of the
    split's, and with chance `open_people` the story's people are made up (phrasings.open_person)."""
    if split == "train" and open_people and rng.random() < open_people:  # no draw when 0: runs replay
        people: list[str] = []
        while len(people) < n_people:
            if (p := ph.open_person(rng)) not in people:
                people.append(p)
    else:
        people = rng.sample(ph.split(ph.PEOPLE, split), n_people)
    moves, where = ph.split(ph.MOVES, split), ph.split(ph.WHERE, split)
    story, who = [], []
    for i in range(max(n_moves, n_people)):
        p = people[i] if i < n_people else rng.choice(people)  # everyone moves at least once
        l = rng.choice(ph.PLACES)
        move, question = rng.choice(moves), rng.choice(where)
        if split == "train" and composed:  # no draw without it: earlier runs' stories stay the same
            if rng.random() < composed:
                move = ph.composed_move(rng, wide_moves)
            if rng.random() < composed:
                question = ph.composed_where(rng)
        story.append((" " + move.format(p=p, l=l) + " ", (question.format(p=p), l)))
        who.append(p)
    asked = rng.choice(people)
    return story, max(i for i, p in enumerate(who) if p == asked)


CODE_BODIES = ["pass", "return None", "...", "raise NotImplementedError"]


class CodeFiles:
    """Standard-library modules streamed as `docqa ingest` streams a folder (<|doc|>, the
    "### path" header, the source), each with the facts `ast` finds in it: whole modules, or with
    `pieces` every module cut into runs of whole top-level statements of at most `max_tokens`. With
    chance `rename` a document's subjects are made up (training only). Third-party code
    (site-packages) and the test suites are left out: the first is evaluation text."""

    EXCLUDE = ("site-packages", "test", "tests", "idlelib", "lib2to3", "__phello__")

    def __init__(self, tok, root: Path | None = None, max_files: int | None = None, max_tokens: int = 1500,
                 rename: float = 0.0, pieces: bool = False):
        if not 0.0 <= rename <= 1.0:
            raise ValueError(f"rename={rename}: a share of documents, in [0, 1]")
        root = Path(root or sysconfig.get_paths()["stdlib"])
        self.rename = rename  # TrainConfig.code_rename
        by_path: dict[str, list[CodeFact]] = {}
        for f in code_facts(root, max_files, self.EXCLUDE):
            by_path.setdefault(f.path, []).append(f)
        paths = sorted(by_path)
        texts = {p: (root / p).read_text(encoding="utf-8") for p in paths}
        if pieces:  # every module, cut into runs of whole top-level statements (TrainConfig.code_pieces)
            parts = [(p, text, facts_in(text, by_path[p])) for p in paths
                     for text in self._pieces(tok, texts[p], max_tokens - len(header_tokens(tok, p)) - 8)]
        else:  # whole files only: every fact is in the stream
            parts = [(p, texts[p], by_path[p]) for p in paths]
        parts = [part for part in parts if part[2]]
        docs = [Document.create(p, str(root / p), text, {"path": p}) for p, text, _ in parts]
        kept = [(d, ids, facts) for d, ids, (_, _, facts) in zip(docs, documents_tokens(tok, docs), parts)
                if len(ids) <= max_tokens]
        self.files = [(ids, facts) for _, ids, facts in kept]
        self.documents = [d for d, _, _ in kept]
        # the answers code needles draw (needle_doc): parameter lists, bases and values of the library
        self.answers = {kind: sorted({f.answer for fs in by_path.values() for f in fs if f.kind == kind})
                        for kind in ("params", "base", "constant")}
        if not self.files:
            raise ValueError(f"no module under {root} has facts and at most {max_tokens} tokens"
                             + ("" if pieces else "; pieces=True cuts longer modules"))

    @staticmethod
    def _pieces(tok, text: str, budget: int) -> list[str]:
        """The module's top-level statements (codefacts.top_level_chunks) grouped in order into
        pieces of about `budget` tokens at most; a statement longer than that is a piece alone."""
        chunks = top_level_chunks(text)
        pieces, piece, size = [], "", 0
        for chunk, ids in zip(chunks, tok.encode_batch(chunks)):
            if piece and size + len(ids) > budget:
                pieces.append(piece)
                piece, size = "", 0
            piece, size = piece + chunk, size + len(ids)
        return pieces + [piece]

    def min_tokens(self, S: int) -> int:
        """The shortest document that holds the smallest module before its question's segment."""
        return -(-min(len(t) for t, _ in self.files) // S) * S + 48

    def doc(self, tok, rng: random.Random, n_tokens: int, S: int, split: str = "train") -> TaskDoc:
        """Whole modules until the question's segment, a question about one of them."""
        reserve = 48  # the question and answer, at most
        limit = (n_tokens - reserve) // S * S
        fits = [i for i, (tokens, _) in enumerate(self.files) if len(tokens) <= limit]
        if not fits:
            raise ValueError(f"no module fits in {limit} tokens; documents need {self.min_tokens(S)}")
        order = rng.sample(fits, min(len(fits), 64))
        # no draw without renaming: earlier runs' documents stay the same
        renamed = split == "train" and self.rename > 0 and rng.random() < self.rename
        stream: list[int] = []
        facts: list[CodeFact] = []
        for i in order:
            tokens, fs = self.files[i]
            if len(stream) + len(tokens) <= limit and renamed:
                tokens, fs = self._renamed(tok, rng, i)
            if len(stream) + len(tokens) <= limit and fs:
                stream += tokens
                facts += fs
        if not facts:
            raise ValueError(f"no module with facts fits in {limit} tokens")
        kind = rng.choice(sorted({f.kind for f in facts}))
        fact = rng.choice([f for f in facts if f.kind == kind])
        question = rng.choice(ph.split(ph.CODE_QUESTIONS[kind], split)).format(subject=fact.subject)
        prompt, ans = qa_tokens(tok, question, fact.answer)
        pad = n_tokens - len(stream) - len(prompt) - len(ans)
        if pad < 0:
            raise ValueError(f"a document of {n_tokens} tokens is too short for this question")
        nxt = self.files[order[-1]][0]
        body = stream + (nxt * (pad // len(nxt) + 1))[:pad]  # the stream goes on into another module
        tokens = body + prompt + ans
        target = [False] * (len(tokens) - len(ans)) + [True] * len(ans)
        return TaskDoc(tokens, target, fact.answer, len(body), len(body) + len(prompt), "code")

    def needle_doc(self, tok, rng: random.Random, filler: Filler, n_tokens: int, S: int, split: str = "train",
                   max_facts: int = 8) -> TaskDoc:
        """1-max_facts definitions of made-up names (phrasings.open_identifier) with the standard
        library's parameter lists, base classes and constant values, hidden in the filler as needles
        are; a code question about one of them. Named facts in the form of code: the step between the
        facts task, which the memory already answers, and whole modules, which it does not yet."""
        room = (n_tokens // S - 1) * S - 32
        n = max(1, min(rng.randint(1, max_facts), room // 40))
        facts: list[Fact] = []
        names: set[str] = set()
        for _ in range(n):
            kind = rng.choice([k for k in ("params", "base", "constant") if self.answers[k]])
            style = {"params": "function", "base": "class", "constant": "constant"}[kind]
            name = ph.open_identifier(rng, style)
            while name in names:
                name = ph.open_identifier(rng, style)
            names.add(name)
            answer = rng.choice(self.answers[kind])
            statement = {"params": f"\n\ndef {name}({answer}):\n    {rng.choice(CODE_BODIES)}\n",
                         "base": f"\n\nclass {name}({answer}):\n    {rng.choice(CODE_BODIES)}\n",
                         "constant": f"\n{name} = {answer}\n"}[kind]
            question = rng.choice(ph.split(ph.CODE_QUESTIONS[kind], split)).format(subject=name)
            facts.append((statement, (question, answer)))
        path = rng.choice(self.documents).id
        return build_doc(tok, rng, filler, n_tokens, S, facts, rng.randrange(n), path=path, task="code_needle",
                         bare_values=True)

    def _renamed(self, tok, rng: random.Random, i: int) -> tuple[list[int], list[CodeFact]]:
        """Module i streamed with its facts' subjects made up (codefacts.rename_subjects)."""
        doc = self.documents[i]
        text, facts = rename_subjects(doc.text, self.files[i][1],
                                      lambda old: ph.open_identifier(rng, ph.identifier_style(old)))
        [ids] = documents_tokens(tok, [Document.create(doc.id, doc.uri, text, doc.metadata)])
        return ids, facts


TASKS = ("passkey", "passkey_synthetic", "needle", "facts", "kv", "kv_words", "track", "code", "code_needle")
TRACK_PEOPLE = (1, 3)  # (fewest, most) people a tracking story moves unless told: every run before a82's


def sample_task(tok, rng: random.Random, filler: Filler, n_tokens: int, S: int, task: str,
                max_facts: int = 8, split: str = "train", code: CodeFiles | None = None,
                questions: int = 1, open_subjects: float = 0.0, open_frames: float = 0.0,
                composed_frames: float = 0.0, composed_fact_frames: float = 0.0,
                open_names: float = 0.0, composed_questions: float = 0.0, wide_links: float = 0.0,
                needle_distractors: int = 0, track_people: tuple[int, int] = TRACK_PEOPLE,
                composed_track: float = 0.0, wide_moves: float = 0.0, open_people: float = 0.0) -> TaskDoc:
    """One document of a named task, sized to fit n_tokens; a named-facts document asks up to
    `questions` of its facts. `composed_frames` composes needles' statements, `composed_questions`
    their questions, `composed_fact_frames` named facts' statements and questions (`wide_links` of
    both kinds' composed links are verbs other than "is"), `open_names` makes up names (training only),
    and a needle document holds up to `needle_distractors` needles of other subjects beside the asked
    one (training only; TrainConfig.needle_distractors). A tracking story moves between
    `track_people` (fewest, most) people, its moves and question composed with chance `composed_track`,
    `wide_moves` of its composed moves with wide verbs, its people made up with chance `open_people`
    (training only)."""
    if task == "code":
        if code is None:
            raise ValueError("the code task needs CodeFiles")
        return code.doc(tok, rng, n_tokens, S, split)
    if task == "code_needle":
        if code is None:
            raise ValueError("the code_needle task needs CodeFiles")
        return code.needle_doc(tok, rng, filler, n_tokens, S, split, max_facts)
    room = (n_tokens // S - 1) * S - 32  # before the question's segment, less the header
    if task == "passkey":
        return build_doc(tok, rng, filler, n_tokens, S, passkey_facts(rng), 0, task=task)
    if task == "passkey_synthetic":  # the synthetic table's haystack, whatever the run's text mix
        return build_doc(tok, rng, filler.synthetic(), n_tokens, S, passkey_facts(rng), 0, task=task)
    if task == "needle":
        kw = dict(open_subjects=open_subjects, open_frames=open_frames, composed_frames=composed_frames,
                  composed_questions=composed_questions, wide_links=wide_links)
        if split != "train" or not needle_distractors:  # no draw without them: earlier runs replay
            return build_doc(tok, rng, filler, n_tokens, S, needle_facts(rng, split, **kw), 0, task=task)
        n = 1 + max(0, min(rng.randint(0, needle_distractors), room // 40 - 1))  # as many as the room holds
        facts: list[Fact] = []
        for s in subjects_apart(rng, n, split, open_subjects):
            fact = needle_facts(rng, split, subject=s, **kw)[0]
            while any(fact[1][1] == f[1][1] for f in facts):  # a value stored twice would answer either
                fact = needle_facts(rng, split, subject=s, **kw)[0]
            facts.append(fact)
        return build_doc(tok, rng, filler, n_tokens, S, facts, 0, task=task)
    if task == "facts":
        if questions > 1:  # leave a segment's room for the further questions and answers
            room -= S
        n = max(1, min(rng.randint(1, max_facts), room // 40))
        facts = named_facts(rng, n, split, open_subjects=open_subjects, composed=composed_fact_frames,
                            open_names=open_names, wide_links=wide_links)
        asks = rng.sample(range(n), min(n, questions)) if questions > 1 and n > 1 else [rng.randrange(n)]
        return asking_doc(tok, rng, filler, n_tokens, S, facts, asks, task)
    if task in ("kv", "kv_words"):  # MQAR (Zoology) in the facts' words: the haystack is facts, several asked
        room -= S  # the further questions' segment
        n = max(1, min(max_facts, room // KV_FACT_TOKENS))
        names = word_keys(tok) if task == "kv_words" else None
        facts = named_facts(rng, n, split, open_subjects=open_subjects, names=names,
                            composed=composed_fact_frames, open_names=open_names,
                            wide_links=wide_links)  # random order: ask the first
        return asking_doc(tok, rng, filler, n_tokens, S, facts, list(range(min(n, max(1, questions)))), task)
    if task == "track":
        fewest, most = track_people
        if not 1 <= fewest <= most:
            raise ValueError(f"track_people={tuple(track_people)}: give (fewest, most) people a story moves, "
                             f"1 <= fewest <= most")
        n_moves = max(1, min(rng.randint(2, 8), room // 24))
        # everyone moves at least once (tracking_facts): with fewest > n_moves the story is longer
        story, ask = tracking_facts(rng, min(rng.randint(fewest, most), max(n_moves, fewest)), n_moves, split,
                                    composed_track, wide_moves, open_people)
        depths = sorted(rng.random() for _ in story)
        return build_doc(tok, rng, filler, n_tokens, S, story, ask, depths=depths, task=task)
    raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")


def sample_doc(tok, rng: random.Random, filler: Filler, n_tokens: int, S: int,
               multi_fraction: float = 0.3, max_facts: int = 4, mix: dict[str, float] | None = None,
               code: CodeFiles | None = None, questions: int = 1, open_subjects: float = 0.0,
               open_frames: float = 0.0, composed_frames: float = 0.0,
               composed_fact_frames: float = 0.0, open_names: float = 0.0,
               composed_questions: float = 0.0, wide_links: float = 0.0, needle_distractors: int = 0,
               track_people: tuple[int, int] = TRACK_PEOPLE, composed_track: float = 0.0,
               wide_moves: float = 0.0, open_people: float = 0.0) -> TaskDoc:
    """A training document. With `mix` ({task: weight}), a task drawn by weight; without it the
    byte-level recipe: a passkey, or several key-value facts (varied phrasing) asking one."""
    if mix:
        if code is not None and n_tokens < code.min_tokens(S):  # too short for a whole module
            mix = {t: w for t, w in mix.items() if t != "code"}
        task = rng.choices(list(mix), weights=list(mix.values()))[0]
        return sample_task(tok, rng, filler, n_tokens, S, task, max_facts, code=code, questions=questions,
                           open_subjects=open_subjects, open_frames=open_frames, composed_frames=composed_frames,
                           composed_fact_frames=composed_fact_frames, open_names=open_names,
                           composed_questions=composed_questions, wide_links=wide_links,
                           needle_distractors=needle_distractors, track_people=track_people,
                           composed_track=composed_track, wide_moves=wide_moves, open_people=open_people)
    room = (n_tokens // S - 1) * S - 32
    if rng.random() < multi_fraction and room >= 48:
        facts = kv_facts(rng, min(rng.randint(1, max_facts), room // 48), varied=True)
    else:
        facts = passkey_facts(rng)
    return build_doc(tok, rng, filler, n_tokens, S, facts, ask=rng.randrange(len(facts)))
