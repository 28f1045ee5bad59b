"""Training from scratch, with back-propagation through the memory across every segment.

Recipe levers (RECALL-NOTES): recall-only documents on simple filler first, a length
curriculum, a fast gate learning rate without weight decay, and a *history bank*: each batch
starts from memories that have already absorbed many segments of filler (streamed without
gradient, a few segments per step, reset at random), so the model learns to store and read
needles in states that look like long histories.

A run directory holds `log.jsonl` and `checkpoint/`: `model/` (a loadable model directory),
`optimizer.safetensors`, `bank.safetensors` (the history bank) and `state.json` (step, elapsed
time, the train config). Checkpoints are swapped in whole, so a crash never leaves half of one.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from docqa.errors import ConfigError
from docqa.memory import LayerMemory, Memory
from docqa.model.center import fit_memory_center
from docqa.model.config import ModelConfig, from_known_fields
from docqa.model.infini import OWN_INIT, InfiniAttention
from docqa.model.io import load_model, save_model
from docqa.model.tokenizer import ByteTokenizer, load_tokenizer, same_tokenizer
from docqa.model.transformer import InfiniTransformer
from docqa.threads import set_threads
from docqa.train.address import address_loss, address_targets
from docqa.train.corpus import describe, load_texts
from docqa.train.evaluate import run_cell
from docqa.train.gap import check_gap_model, stream_gap
from docqa.train.tasks import TASKS, TRACK_PEOPLE, CodeFiles, Filler, sample_doc

CENTER_SEGMENTS = 64  # text the memory's new centres are fitted on, in segments (model/center.py)


@dataclass
class TrainConfig:
    preset: str = "small"
    init_from: str | None = None  # a model directory to start from (a new phase of training)
    # A converted Hugging Face model (init_from, `docqa convert`) trains its memory branches
    # only; this also trains its attention projections. The rest of the checkpoint stays frozen.
    train_attention: bool = False
    # A regular expression (re.search): docqa's own model's parameters whose names match stay as
    # they are, left out of the optimizer (e.g. "^emb|^blocks\\.0\\." keeps what a graft brought).
    freeze: str | None = None
    model_overrides: dict = field(default_factory=dict)
    steps: int = 3000
    batch: int = 16
    lr: float = 1e-3
    gate_lr: float = 1e-2  # the eq. 10 gates must move fast or memory is never used
    # The short conv's own learning rate (None: lr). Taps a phase adds (_grow_conv) start at zero,
    # and at lr 1e-3 they stay too small to matter for a CPU session's few hundred steps.
    conv_lr: float | None = None
    weight_decay: float = 0.1
    warmup: int = 100
    min_segments: int = 3  # a passkey needle plus the header fill most of a 64-token segment
    max_segments: int = 6  # documents grow from min to max segments over `curriculum_steps`
    start_max_segments: int = 4
    curriculum_steps: int = 1500
    multi_fraction: float = 0.3  # share of documents with several key-value facts
    max_facts: int = 4
    questions: int = 1  # a named-facts document asks up to this many of its facts (MQAR asks all)
    # A document's last segment is cut short by up to this share of S, so that its question lands
    # anywhere in its segment. `docqa ask` writes the corpus's pending tail to memory first
    # (docqa.model.base.question_cut), so the question opens its segment; 0.5 never shows that.
    question_cut: float = 0.5
    # Share of needles and named facts whose subject is an open one (docqa.train.phrasings.
    # open_subject, ~1,900 "{word} {kind}" pairs) instead of one of the 30 training subjects.
    open_subjects: float = 0.0
    # Share of needles phrased with a training-only frame (phrasings.TRAIN_ONLY_STATEMENTS, 20
    # frames) instead of one of the 9 training frames of phrasings.STATEMENTS.
    open_frames: float = 0.0
    # Share of the other needles phrased with a composed frame (phrasings.composed_statement: opener,
    # determiner, link and closer drawn apart, ~12,000 frames).
    composed_frames: float = 0.0
    # Share of needles asked with a composed question (phrasings.composed_question: opener, body and
    # closer drawn apart, 1,120 questions and requests) instead of one of the 6 training questions.
    composed_questions: float = 0.0
    # Share of composed statements, of needles (composed_frames) and of named facts
    # (composed_fact_frames), whose link to the value is a verb other than "is" (phrasings.WIDE_LINKS,
    # 84 links: "shows", "is stored as", "came back as" ...) instead of one of the 22 COMPOSED_LINKS:
    # needles linked by such verbs were recalled about half as often.
    wide_links: float = 0.0
    # Share of named facts' statements, and apart of their questions, drawn from composed frames
    # (phrasings.composed_fact_statement, COMPOSED_FACT_QUESTIONS) instead of the six training
    # statement and three question frames, in the facts and kv tasks.
    composed_fact_frames: float = 0.0
    # Most needles of other subjects stored beside a needle document's asked one (0..n per document,
    # tasks.subjects_apart). With one needle a document holds one value, and a question that names
    # only the subject is answered by whatever was written: a68's composed requests gained held-out
    # needles and cost the named facts, which share their subject and differ by name alone
    # (docs/TRAINING.md, twenty-eighth session). With distractors the subject must pick the needle.
    # Measured (a73, twenty-ninth session): a68's run with 3 was a68 again at step 100; the facts' loss
    # came with any new run from a63's model (a75), not from the requests.
    needle_distractors: int = 0
    # (fewest, most) people a tracking story moves; None: tasks.TRACK_PEOPLE, (1, 3). With one
    # person the latest place written is always the answer: over 1-3 people it is in about two
    # stories of three, against one of three at the bench's 3 people, so recency pays in training
    # (docs/TRAINING.md, thirty-first session).
    track_people: list | None = None
    # Share of tracking moves, and apart of tracking questions, drawn from composed parts
    # (phrasings.composed_move, 1,694 moves; composed_where, 600 questions and requests) instead
    # of the 6 training moves and 3 questions: with those alone the held-out "Where did {p} go last?"
    # was answered with a needle's value (docs/TRAINING.md, thirty-first session).
    composed_track: float = 0.0
    # Share of composed tracking moves whose verb is one of phrasings.WIDE_MOVE_VERBS (67 verbs, half
    # after an adverb), and share of tracking stories whose people are made up (phrasings.open_person)
    # instead of drawn from the 38 training people: with the composed parts alone, held-out moves and
    # held-out people each cost a86 most of its tracking (docs/TRAINING.md, thirty-second session).
    wide_moves: float = 0.0
    open_people: float = 0.0
    # Share of code documents whose modules' subjects are made up (codefacts.rename_subjects,
    # phrasings.open_identifier), their "defines" questions left out: the weights hold the
    # standard library's answers, so unrenamed questions teach a prior, not recall (a84 answered
    # with and without the memory alike; docs/TRAINING.md, thirty-first session).
    code_rename: float = 0.0
    # 0: the code task streams whole standard-library modules of at most 1,500 tokens (122 of them);
    # N: every module cut into pieces of whole top-level statements of at most N tokens (at 512:
    # 1,251 pieces), each asked only about what it defines, so that a question's answer sits a few
    # segments back, as a named fact's does, and the pool is ten times wider.
    code_pieces: int = 0
    # Share of named facts' names made up for the document (phrasings.open_name) instead of drawn
    # from the ~450 training names, in the facts and kv tasks.
    open_names: float = 0.0
    # Weight of the mean write strength (beta of the delta rule) in the loss. Every write with a key
    # k erases a share beta (k . k_n)^2 of a stored fact's key direction k_n, so a fact survives a
    # long stream only if most tokens hardly write (docs/TRAINING.md, December: retention).
    write_penalty: float = 0.0
    # Under a write gate (model write_threshold), give the writes it drops the gradient they would
    # get if kept (straight-through; docqa.model.write_gate.write_gate). Without it a fact's write that
    # falls under the threshold gets only the write penalty's push down and never comes back.
    gate_straight_through: bool = False
    # With gate_straight_through: the layers (0-based) it applies to; None, every layer. In every
    # layer (a131) layer 2's second head came to write real text, a sum of beta / d_head of 25.7 per
    # 64K tokens, and the 64K needle was gone; in layer 1 alone (a133) no head did (docs/TRAINING.md,
    # fortieth session).
    straight_through_layers: list[int] | None = None
    # Weight of the value-write loss: -log beta at every fact's key token (TaskDoc.keys, the value's
    # first informative token), each head of each layer. A needle stated in a frame training never
    # showed writes its value ~60% as strongly as one in a training frame, and under the write gate
    # the weak ones are not written at all (docs/TRAINING.md, eleventh session); the answer's loss
    # reaches beta only through what the read returns, this loss at the token itself. 0 = off.
    value_write_weight: float = 0.0
    # The layers the value-write loss is taken in (None: every layer). A layer that addresses by
    # name (address_layers) answers only if it also writes the fact: under the write gate the
    # default's layer 0 writes nothing at a needle (docs/TRAINING.md, thirteenth session).
    value_write_layers: list | None = None
    # Weight of its other half: -log(1 - beta) at every other token of the documents, in the same
    # layers. With value_write_weight alone a layer that cannot yet tell a fact from text raises
    # beta everywhere (a14's layer 0: text writes x10 in 100 steps); with both, the two terms
    # are a balanced cross-entropy of "is this a fact's token". The other tokens are those outside
    # every fact's statement (TaskDoc.statements): the statement's own tokens are the model's to
    # write or not. 0 = off.
    value_write_negatives: float = 0.0
    # Weight of -log(1 - beta) at the text tokens (as value_write_negatives': outside every fact's statement) whose
    # write strength in a layer of `hard_negative_layers` (None: every layer) is over `hard_negative_beta`, averaged
    # over those alone: the text a layer is about to write as a fact. value_write_negatives' mean over all the text
    # gives the few fact-shaped phrases ("the value is an integer") a few thousandths of its gradient, and at 1.0
    # moved neither their number nor their places in layer 1 (a167, forty-seventh session). 0 = off.
    hard_negative_weight: float = 0.0
    hard_negative_beta: float = 0.2
    hard_negative_layers: list | None = None
    # Where the value-write loss asks for a write: "first", the key token alone; "value", every
    # token of the value from it on (a value of several tokens is read back token by token, and
    # under the gate a token that does not write is not there to read: a18's near misses).
    value_write_span: str = "first"
    # The tasks whose documents the value-write loss asks writes in (TaskDoc.task; None: every task); ["track"]
    # asks it of the tracking moves alone. At every fact's value it brought tracking in training phrasings
    # back and held-out needles were lost (a153, a154); at the moves alone too (a155; docs/TRAINING.md,
    # forty-fourth session).
    value_write_tasks: list | None = None
    # Weight of the address loss (docqa/train/address.py): the memory's query at each named-facts
    # question should match the asked fact's key better than the other facts' keys, per head of
    # `address_layers` (None: every layer but the first, whose query at a question cannot yet
    # have read the name), cosines times `address_scale` as logits; `address_sign` -1 asks for the
    # most negative cosine, the way round the trained models read (address.py). 0 = off.
    address_weight: float = 0.0
    address_layers: list | None = None
    address_scale: float = 10.0
    address_sign: float = 1.0
    address_kind: str = "nce"  # or "gram": cosines towards the one-hot and orthogonal fact keys (address.py)
    # Tokens of each addressed document's earlier text added to its facts as candidates no question
    # asks (address.address_targets): the asked key should beat the text the memory also wrote.
    # Drawn by an rng of their own, so the batches are those of the same run without them.
    address_negatives: int = 0
    # Distillation (Hinton et al. 2015; "learning without forgetting", Li and Hoiem 2016): on the rows of
    # `distill_tasks`, the KL divergence of the model's next-token distribution from that of the model
    # in `distill_from`, at every position the loss is taken and with the same weights, added with
    # `distill_weight`. The teacher is built as the start model is (init_from, model_overrides) and reads
    # the same starting memory (the history bank and lead the student wrote: filler, not the facts, which
    # are in the rows themselves). It holds what a phase should not lose while it trains something else:
    # a new run from a63's model loses its named facts by step 50 (docs/TRAINING.md, twenty-ninth
    # session: a74, distilled at 1.0, was nearer a63's facts at step 100 than a68 and gained fewer needles).
    distill_from: str | None = None
    distill_weight: float = 0.0
    distill_tasks: list = field(default_factory=lambda: ["facts", "kv"])
    code_fraction: float = 0.0  # share of filler drawn from real Python source, reached at the end
    prose_fraction: float = 0.0  # share drawn from English prose (stdlib docstrings), likewise
    lm_weight: float = 0.05  # weight of next-token loss on non-answer tokens
    # Share of non-answer positions that get the next-token loss. With a subword vocabulary the
    # LM head is most of a step's cost; the answer positions are always kept.
    lm_sample: float = 1.0
    tokenizer: str | None = None  # a BPE tokenizer.json for a new model; None: bytes
    # {task: weight} over docqa.train.tasks.TASKS (passkey, needle, facts, track, ...); empty: the
    # byte-level recipe (passkeys plus `multi_fraction` key-value facts)
    task_mix: dict = field(default_factory=dict)
    # "stdlib": filler from the standard library's first files (the byte-level recipe);
    # "corpus": all of docqa.train.corpus (stdlib, Python docs, man pages, Debian docs)
    text: str = "stdlib"
    max_text_files: int = 1500  # per corpus source, with text="corpus"
    # Steps over which code/prose shares rise from 0 to their values; None: the whole run.
    text_ramp_steps: int | None = None
    first_answer_weight: float = 1.0  # weight of the first answer token: the one only the key can give
    history_reset: float = 0.02  # chance per step that a history-bank slot starts over empty
    history_advance: int = 1  # filler segments streamed into each bank slot per step
    history_fraction: float = 0.75  # share of steps that start from the history bank
    # A gap of training text between each document's facts and its question, streamed without a
    # graph while the answer's gradient still reaches the writes before it (docqa/train/gap.py):
    # retention past the documents' length. On `gap_fraction` of the steps, 1..gap_segments segments.
    gap_segments: int = 0
    gap_fraction: float = 0.0
    gap_learn_writes: bool = False  # the gap's own writes learn too, one layer deep (gap.stream_gap)
    # A lead of training text streamed into the starting memory before the documents, without a
    # graph: facts written into a memory as full as a corpus's (the history bank holds a few
    # dozen segments; a bench's end-depth fact follows up to a thousand). On `lead_fraction` of
    # the steps, 1..lead_segments segments per row (draw_lead).
    lead_segments: int = 0
    lead_fraction: float = 0.0
    # share of filler draws (documents' text, gaps, leads, the history bank) cut into files of 20-300
    # tokens, each behind its <|doc|> header, as a folder of small files streams (Filler.short_documents)
    short_docs: float = 0.0
    # each of those files drawn from a place of its own (and a pool of its own), so that the text
    # jumps at every header as a real folder's does; off, one draw is cut into files
    short_docs_apart: bool = False
    # share of those apart files that are key-value header lines no task asks about (Debian copyright
    # files, the standard library's test mails: corpus "fields"), so that a layer learns not to write
    # every "Name: value" line as a fact (Filler.field_docs)
    field_docs: float = 0.0
    # Weight of -log(1 - beta) at those field files' tokens (TaskDoc.unasked), in `unasked_write_layers`
    # (None: every layer): a write the answer never needs, named as such. The write penalty and a
    # question's loss alone did not hold a141's layer 1 off them (a145, forty-third session). 0 = off.
    unasked_write_weight: float = 0.0
    unasked_write_layers: list | None = None
    eval_every: int = 250  # quick passkey eval (1K and 4K tokens, with knockout) in the log
    save_every: int = 100
    keep_every: int = 0  # also keep a copy of the model every this many steps (models/step-N), for the bench to choose from
    seed: int = 0
    device: str = "cpu"
    threads: int = 1

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return from_known_fields(cls, d, "train config", name_known=False)


def _from_model(tc: TrainConfig):
    """Start from a trained model and its tokenizer; `model_overrides` may add parts it lacks
    (a short conv, memory_qk, memory_center, memory_whiten) or widen its short conv (_grow_conv),
    which start as they are initialised
    (the conv as the identity, memory_qk and the centres at zero; `train` then fits the centres'
    and covariances' statistics to the training text). A converted model continues from its checkpoint with the base frozen (see
    `_trainable`). Returns the model, its tokenizer and the names of the parameters it gained."""
    base = load_model(tc.init_from, device=tc.device)
    if not isinstance(base.model, InfiniTransformer):
        if tc.model_overrides or tc.tokenizer:
            raise ConfigError(f"{tc.init_from} is a converted model: its architecture and tokenizer are the "
                              "checkpoint's; leave model_overrides and tokenizer unset")
        return base.model, base.tokenizer, []
    if tc.tokenizer and not same_tokenizer(load_tokenizer(Path(tc.tokenizer)), base.tokenizer):
        raise ConfigError(f"tokenizer {tc.tokenizer} is not the tokenizer of {tc.init_from}; "
                          "a phase keeps its model's tokenizer: leave tokenizer unset")
    model = InfiniTransformer(replace(base.config, **tc.model_overrides)).to(tc.device)
    result = model.load_state_dict(_grow_conv(base.model.state_dict(), base.config.short_conv,
                                              model.cfg.short_conv), strict=False)
    missing = [k for k in result.missing_keys if not k.endswith(OWN_INIT)]
    if missing or result.unexpected_keys:
        raise ConfigError(f"model_overrides {tc.model_overrides} do not fit {tc.init_from}: "
                          f"missing {missing}, unexpected {result.unexpected_keys}")
    return model, base.tokenizer, result.missing_keys


def _teacher(tc: TrainConfig, tok):
    """The distillation teacher: tc.distill_from built as `_from_model` builds a phase's start, frozen."""
    if not tc.distill_from:
        raise ConfigError("distill_weight needs distill_from: the model directory whose answers to keep")
    teacher, teacher_tok, _ = _from_model(replace(tc, init_from=tc.distill_from, tokenizer=None))
    if not same_tokenizer(teacher_tok, tok):
        raise ConfigError(f"distill_from {tc.distill_from} has another tokenizer than the model trained: "
                          "its next-token distributions are over other tokens; distill from a model of this lineage")
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def distill_loss(teacher, x: torch.Tensor, start: Memory, rows: list[int], sel: torch.Tensor, wt: torch.Tensor,
                 logits: torch.Tensor, gap_at: int = 0, gap: torch.Tensor | None = None) -> torch.Tensor:
    """KL(teacher || student) at the positions `sel` (B, T-1) of `rows`, weighted by `wt` (B, T-1).
    `logits` (n_sel, V) are the student's at every selected position of the batch, in row-major order."""
    r = torch.tensor(rows, dtype=torch.long, device=x.device)
    with torch.no_grad():
        begin = Memory([LayerMemory(l.M[r], l.z[r]) for l in start.layers], start.pending[r], start.segments)
        if gap is None:
            th, _ = teacher.hidden(x[r], begin)
        else:
            th = hidden_across_gap(teacher, x[r], begin, gap_at, gap[r], [], [])
        t_logp = F.log_softmax(teacher.logits(th[:, :-1][sel[r]]).float(), -1)
    in_rows = torch.zeros_like(sel)
    in_rows[r] = True
    s_logp = F.log_softmax(logits[in_rows[sel]], -1)
    w = wt[r][sel[r]]
    kl = (t_logp.exp() * (t_logp - s_logp)).sum(-1)
    return (kl * w).sum() / w.sum()


def _grow_conv(state: dict, was: int, now: int) -> dict:
    """A trained model's short conv widened from `was` to `now` taps: the new taps reach further
    back and start at zero, so the model computes what it did (docqa/model/infini.py keeps the
    taps for positions t-K+1 .. t, the current token last). A narrower conv would drop taps."""
    if not was or now == was:
        return state
    if now < was:
        raise ConfigError(f"short_conv {now} is narrower than the model's {was}: its taps would be lost")
    return {k: F.pad(v, (now - was, 0)) if k.endswith("attn.conv") else v for k, v in state.items()}


def _trainable(model, tc: TrainConfig):
    """A converted model trains its memory branches (and attention with tc.train_attention);
    docqa's own models train every parameter but those tc.freeze names."""
    if not isinstance(model, InfiniTransformer):
        if tc.freeze:
            raise ConfigError("freeze applies to docqa's own models; a converted model trains its memory "
                              "branches only (and its attention with train_attention)")
        model.freeze_base(tc.train_attention)
    elif tc.train_attention:
        raise ConfigError("train_attention applies to converted models (docqa convert); "
                          "docqa's own models train every parameter")
    elif tc.freeze:
        frozen = [p for name, p in model.named_parameters() if re.search(tc.freeze, name)]
        if not frozen:
            raise ConfigError(f"freeze={tc.freeze!r} matches no parameter: name them as in the model's state "
                              f"dict (e.g. '^emb', 'blocks\\.0\\.', 'attn.conv')")
        for p in frozen:
            p.requires_grad_(False)
    return model


def make_optimizer(model: InfiniTransformer, tc: TrainConfig) -> torch.optim.AdamW:
    g = model.parameter_groups()
    conv = {id(p) for n, p in model.named_parameters() if n.endswith("attn.conv")} if tc.conv_lr else set()
    groups = [
        {"params": g["decay"], "lr": tc.lr, "weight_decay": tc.weight_decay, "name": "decay"},
        {"params": [p for p in g["no_decay"] if id(p) not in conv], "lr": tc.lr, "weight_decay": 0.0, "name": "no_decay"},
        {"params": g["gate"], "lr": tc.gate_lr, "weight_decay": 0.0, "name": "gate"},
    ]
    if conv:
        groups.append({"params": [p for p in g["no_decay"] if id(p) in conv], "lr": tc.conv_lr,
                       "weight_decay": 0.0, "name": "conv"})
    return torch.optim.AdamW(groups, betas=(0.9, 0.95))


def lr_scale(step: int, tc: TrainConfig) -> float:
    if step < tc.warmup:
        return (step + 1) / tc.warmup
    frac = min(1.0, (step - tc.warmup) / max(1, tc.steps - tc.warmup))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))


class HistoryBank:
    """Memories of batch `batch` that keep absorbing filler. Slots restart empty at random, so
    their ages spread from 0 to hundreds of segments."""

    def __init__(self, model: InfiniTransformer, batch: int):
        self.model, self.memory = model, model.new_memory(batch)

    @torch.no_grad()
    def advance(self, rng: random.Random, filler: Filler, n_segments: int, reset: float) -> Memory:
        S = self.model.cfg.segment_len
        for i in range(self.memory.batch):
            if rng.random() < reset:
                for layer in self.memory.layers:
                    layer.M[i].zero_()
                    layer.z[i].zero_()
        if n_segments:
            text = torch.tensor([filler.tokens(rng, n_segments * S) for _ in range(self.memory.batch)])
            self.memory = self.model.ingest(text.to(self.memory.pending.device), self.memory)
        return Memory(self.memory.detach().layers, self.memory.pending[:, :0], 0)


def make_batch(tok, rng, filler, tc: TrainConfig, step: int, S: int, code: CodeFiles | None = None):
    progress = min(1.0, step / max(1, tc.curriculum_steps))
    hi = round(tc.start_max_segments + progress * (tc.max_segments - tc.start_max_segments))
    n_seg = rng.randint(tc.min_segments, max(tc.min_segments, hi))
    docs = []
    for _ in range(tc.batch):
        length = n_seg * S - rng.randrange(max(1, int(S * tc.question_cut)))
        docs.append(sample_doc(tok, rng, filler, length, S, tc.multi_fraction, tc.max_facts, tc.task_mix, code,
                               tc.questions, tc.open_subjects, tc.open_frames, tc.composed_frames,
                               tc.composed_fact_frames, tc.open_names, tc.composed_questions,
                               tc.wide_links, tc.needle_distractors, track_people=tuple(tc.track_people or TRACK_PEOPLE),
                               composed_track=tc.composed_track, wide_moves=tc.wide_moves,
                               open_people=tc.open_people))
    T = max(len(d.tokens) for d in docs)
    x = torch.zeros(tc.batch, T, dtype=torch.long)
    ans = torch.zeros(tc.batch, T, dtype=torch.bool)  # position t predicts an answer token t+1
    real = torch.zeros(tc.batch, T)  # position t predicts a real (not padding) token
    for i, d in enumerate(docs):
        x[i, :len(d.tokens)] = torch.tensor(d.tokens)
        ans[i, :len(d.tokens) - 1] = torch.tensor(d.target[1:])
        real[i, :len(d.tokens) - 1] = 1.0
    if tc.lm_sample < 1.0:  # drawn only when sampling, so full-LM runs replay the data of earlier runs
        real = real * (torch.rand(x.shape, generator=torch.Generator().manual_seed(rng.randrange(2**31))) < tc.lm_sample)
    w = torch.where(ans, 1.0, tc.lm_weight * real)
    first = ans & ~torch.cat([torch.zeros_like(ans[:, :1]), ans[:, :-1]], 1)  # answer starts
    w = torch.where(first, tc.first_answer_weight, w)
    return x, w, ans, n_seg, docs


def row_filler(filler: Filler, doc) -> Filler:
    """The text streamed around a document (its gap, its lead): the synthetic filler in a
    `passkey_synthetic` row, so that its whole haystack is the synthetic table's; the run's text
    in every other row."""
    return filler.synthetic() if doc.task == "passkey_synthetic" else filler


def draw_gap(tc: TrainConfig, rng: random.Random, filler, docs, S: int) -> tuple[int, torch.Tensor | None]:
    """(where, tokens (B, G*S)) of this step's gap, or (0, None). It goes in at the segment boundary
    before the earliest question of the batch (every fact of a document is stated before its
    question's segment: tasks.needle_room), G of 1..gap_segments segments of row_filler text per row.
    Its own random stream: a run with no gap draws the data of one without the setting."""
    if not tc.gap_segments or rng.random() >= tc.gap_fraction:
        return 0, None
    at = min(d.question_start for d in docs) // S * S
    if at == 0:
        return 0, None
    G = rng.randint(1, tc.gap_segments)
    return at, torch.tensor([row_filler(filler, d).tokens(rng, G * S) for d in docs], dtype=torch.long)


def draw_lead(tc: TrainConfig, rng: random.Random, filler, docs, S: int) -> torch.Tensor | None:
    """This step's lead, tokens (B, L*S) with L of 1..lead_segments segments of row_filler text per
    row, or None. Its own random stream, like draw_gap's."""
    if not tc.lead_segments or rng.random() >= tc.lead_fraction:
        return None
    L = rng.randint(1, tc.lead_segments)
    return torch.tensor([row_filler(filler, d).tokens(rng, L * S) for d in docs], dtype=torch.long)


@torch.no_grad()
def stream_lead(model, memory: Memory, lead: torch.Tensor) -> Memory:
    """`memory` after `lead` (B, L*S), with no graph: what the document's writes start from."""
    after = model.ingest(lead, memory.detach())
    return Memory(after.layers, after.pending, 0)


def address_capture(qk: list, rows: list, writes: list):
    """The forward pre-hook of an attention layer that records its memory's (q, k) of the batch's
    `rows` for the address loss. A forward without a graph records nothing: it teaches nothing, and
    a gap streams so (hidden_across_gap), where every chunk's records were held until the gap ended
    (part of what a run with gaps of 1,024 segments at batch 8 held when it was OOM-killed)."""
    def capture(m, args):
        if rows and torch.is_grad_enabled():
            n = len(writes)
            qk.append(m.projections(args[0][rows])[:2])
            del writes[n:]  # projections() ran the write strength again: not a write of this forward
    return capture


def hidden_across_gap(model, x: torch.Tensor, memory: Memory, at: int, gap: torch.Tensor,
                      writes: list, qk: list, learn_writes: bool = False) -> torch.Tensor:
    """model.hidden over x (B, T) with `gap` streamed in before position `at` (stream_gap) -> the
    hidden states of x alone. The hooks' records of the two halves are joined as one forward's
    (`writes` along the segments, `qk` along the tokens); the gap's are dropped."""
    h1, memory = model.hidden(x[:, :at], memory)
    n_writes, n_qk = len(writes), len(qk)
    memory = stream_gap(model, memory, gap, learn_writes=learn_writes)
    del writes[n_writes:], qk[n_qk:]
    h2, _ = model.hidden(x[:, at:], memory)
    writes[:] = [torch.cat(pair, 1) for pair in zip(writes[:n_writes], writes[n_writes:])]
    qk[:] = [tuple(torch.cat(pair, -2) for pair in zip(a, b)) for a, b in zip(qk[:n_qk], qk[n_qk:])]
    return torch.cat([h1, h2], 1)


VALUE_SPANS = ("first", "value")


def value_positions(docs, span: str = "first", tasks: list | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, positions) of every fact's key token in a batch (TaskDoc.keys that were found), or
    with span "value" of every token of its value from the key token on (TaskDoc.value_ends); with
    `tasks`, of the documents of those tasks alone (TaskDoc.task)."""
    if span not in VALUE_SPANS:
        raise ConfigError(f"value_write_span={span!r}; choose one of {VALUE_SPANS}")
    pairs = [(row, t) for row, d in enumerate(docs) if tasks is None or d.task in tasks
             for i, p in enumerate(d.keys) if p >= 0
             for t in (range(p, d.value_ends[i]) if span == "value" else (p,))]
    return (torch.tensor([r for r, _ in pairs], dtype=torch.long), torch.tensor([p for _, p in pairs], dtype=torch.long))


def value_write_loss(per_layer: list[torch.Tensor], layers: list | None = None) -> torch.Tensor:
    """-log beta at the facts' key tokens, averaged over `layers` (None: all). per_layer: each
    layer's write-strength logits (P, H) at the P key tokens of the batch, in layer order."""
    chosen = per_layer if layers is None else [per_layer[i] for i in layers]
    return F.softplus(-torch.cat(chosen)).mean()  # -log sigmoid


def text_positions(docs, T: int) -> torch.Tensor:
    """(B, T) True at every real token of each document outside its facts' statements."""
    mask = torch.zeros(len(docs), T, dtype=torch.bool)
    for row, d in enumerate(docs):
        mask[row, :len(d.tokens)] = True
        for start, end in d.statements:
            mask[row, start:end] = False
    return mask


def text_write_loss(writes: list[torch.Tensor], mask: torch.Tensor, layers: list | None = None) -> torch.Tensor:
    """-log(1 - beta) at the tokens of `mask` (B, T), averaged over `layers` (None: all). writes:
    each layer's write-strength logits (B, N, S, H), N segments of S tokens, N S >= T."""
    chosen = writes if layers is None else [writes[i] for i in layers]
    return torch.cat([F.softplus(b.flatten(1, 2)[:, :mask.shape[1]][mask].float()) for b in chosen]).mean()


def hard_negative_loss(writes: list[torch.Tensor], mask: torch.Tensor, beta: float,
                       layers: list | None = None) -> tuple[torch.Tensor, int]:
    """-log(1 - beta) at the tokens and heads of `mask` (B, T) whose write strength is over `beta`, averaged
    over those, in `layers` (None: all); and how many there were. None over it: 0 with no gradient. writes: each
    layer's write-strength logits (B, N, S, H), N segments of S tokens, N S >= T."""
    chosen = writes if layers is None else [writes[i] for i in layers]
    logits = torch.cat([b.flatten(1, 2)[:, :mask.shape[1]][mask].float() for b in chosen])  # (tokens, H)
    over = torch.sigmoid(logits.detach()) > beta  # which tokens are hard is a choice, not a gradient path
    n = int(over.sum())
    return (F.softplus(logits[over]).mean() if n else logits.sum() * 0.0), n


def unasked_positions(docs, T: int) -> torch.Tensor:
    """(B, T) True at every token of each document's field files (TaskDoc.unasked)."""
    mask = torch.zeros(len(docs), T, dtype=torch.bool)
    for row, d in enumerate(docs):
        for start, end in d.unasked:
            mask[row, start:end] = True
    return mask


def set_straight_through(model, tc: TrainConfig) -> None:
    """TrainConfig.gate_straight_through and straight_through_layers on the model's attention layers,
    in their order (training-time only: the attribute is not saved with the model)."""
    layers = [m for m in model.modules() if isinstance(m, InfiniAttention)]
    chosen = tc.straight_through_layers
    bad = [i for i in chosen or () if not 0 <= i < len(layers)]
    if bad:
        raise ConfigError(f"straight_through_layers {bad}: the model has {len(layers)} attention layers "
                          f"(0..{len(layers) - 1})")
    for i, mod in enumerate(layers):
        mod.gate_straight_through = tc.gate_straight_through and (chosen is None or i in chosen)


def gate_stats(model) -> list[list[float]]:
    """sigmoid of each layer's eq. 10 gates, per head."""
    return [[round(float(torch.sigmoid(g)), 3) for g in p.detach()] for p in model.parameter_groups()["gate"]]


def quick_eval(model: InfiniTransformer, tok: ByteTokenizer, run: Path, seed: int) -> dict:
    """Exact match through memory, and with the memory knocked out: passkey at 1K and 4K tokens
    (middle depth), two facts at 1K."""
    from docqa.model.io import LoadedModel

    model.eval()
    lm = LoadedModel(model, tok, model.cfg, "", run)
    out = {}
    for length in (1024, 4096):
        r = run_cell(lm, "passkey", length, 0.5, n=8, seed=seed + 1000)
        out[str(length)] = [round(r["exact"], 2), round(r["knockout_exact"], 2)]
    r = run_cell(lm, "facts", 1024, 0.0, n=8, seed=seed + 1000, n_facts=2)
    out["facts=2@1024"] = [round(r["exact"], 2), round(r["knockout_exact"], 2)]
    model.train()
    return out


def save_checkpoint(run: Path, model, tok, opt, bank: HistoryBank, state: dict) -> None:
    tmp = run / "tmp-checkpoint"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, tok, tmp / "model")
    save_file({f"{i}.{k}": getattr(l, k).contiguous() for i, l in enumerate(bank.memory.layers) for k in "Mz"},
              str(tmp / "bank.safetensors"))
    sd = opt.state_dict()
    tensors = {f"{idx}.{k}": v if torch.is_tensor(v) else torch.tensor(v)
               for idx, st in sd["state"].items() for k, v in st.items()}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / "optimizer.safetensors"),
              metadata={"param_groups": json.dumps(sd["param_groups"])})
    (tmp / "state.json").write_text(json.dumps(state, indent=2))
    # Swap directories: a crash leaves either `checkpoint` or `checkpoint.old` whole.
    live, old = run / "checkpoint", run / "checkpoint.old"
    shutil.rmtree(old, ignore_errors=True)
    if live.exists():
        live.rename(old)
    tmp.rename(live)
    shutil.rmtree(old, ignore_errors=True)


def checkpoint_dir(run: Path) -> Path | None:
    for name in ("checkpoint", "checkpoint.old"):
        if (run / name / "state.json").exists():
            return run / name
    return None


# What a branch takes from its parent as it is: the model and its tokenizer, the optimizer's
# parameter groups, the history bank's batch and the encoded training text.
FIXED_IN_BRANCH = ("preset", "init_from", "model_overrides", "tokenizer", "train_attention", "freeze", "batch",
                   "text", "max_text_files")


def branch_run(parent: Path, run: Path, overrides: dict) -> dict:
    """Make `run` a copy of `parent`'s latest checkpoint (model, Adam moments, history bank, step)
    with `overrides` applied to its train config; `train(run)` then resumes it.

    A new phase started from a checkpoint's model alone (init_from) begins with fresh Adam moments,
    a fresh warmup and empty histories; a branch changes the settings and keeps all of those, so it
    differs from the parent's own continuation by the settings alone (and, with another seed, the
    batches). The parent is only read. Returns the branch's state."""
    parent, run = Path(parent), Path(run)
    ckpt = checkpoint_dir(parent)
    if ckpt is None:
        raise ConfigError(f"{parent} holds no checkpoint to branch from; train it first")
    if run.exists() and any(run.iterdir()):
        raise ConfigError(f"{run} is not empty; a branch needs a new run directory")
    fixed = sorted(k for k in overrides if k in FIXED_IN_BRANCH)
    if fixed:
        raise ConfigError(f"a branch keeps its parent's {', '.join(fixed)}; start a new run with --init-from "
                          f"to change {'them' if len(fixed) > 1 else 'it'}")
    state = json.loads((ckpt / "state.json").read_text())
    before = asdict(TrainConfig.from_dict(state["train_config"]))  # a field added since it saved: its default
    tc = TrainConfig.from_dict({**state["train_config"], **overrides})
    check_settings(tc)
    changed = {k: v for k, v in asdict(tc).items() if v != before[k]}
    state = {**state, "train_config": asdict(tc),
             "branched_from": {"run": str(parent), "step": state["step"], "changed": changed}}
    run.mkdir(parents=True, exist_ok=True)
    for name in ("filler.safetensors", "text.json"):  # the parent's encoded text: the same pools
        if (parent / name).exists():
            shutil.copyfile(parent / name, run / f"{name}.tmp")
            (run / f"{name}.tmp").rename(run / name)
    tmp = run / "tmp-checkpoint"  # the checkpoint lands last and whole: it is what marks a run
    shutil.copytree(ckpt, tmp)
    (tmp / "state.json").write_text(json.dumps(state, indent=2))
    tmp.rename(run / "checkpoint")
    return state


def load_optimizer(opt: torch.optim.AdamW, path: Path) -> None:
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        groups = json.loads(f.metadata()["param_groups"])
    flat = load_file(str(path))
    state: dict = {}
    for key, v in flat.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": groups})


def check_settings(tc: TrainConfig) -> None:
    """The settings that need no model: refused before the model loads and the text is tokenized,
    not at the first step."""
    if tc.freeze is not None:
        try:
            re.compile(tc.freeze)
        except re.error as e:
            raise ConfigError(f"freeze={tc.freeze!r} is not a regular expression: {e}") from e
    if tc.value_write_span not in VALUE_SPANS:
        raise ConfigError(f"value_write_span={tc.value_write_span!r}; choose one of {VALUE_SPANS}")
    if tc.straight_through_layers is not None and not tc.gate_straight_through:
        raise ConfigError("straight_through_layers picks the layers gate_straight_through applies to; "
                          "set gate_straight_through=true too")
    shares = {k: getattr(tc, k) for k in ("open_subjects", "open_frames", "composed_frames",
                                           "composed_fact_frames", "open_names", "composed_questions",
                                           "wide_links", "short_docs", "composed_track", "wide_moves",
                                           "open_people", "code_rename", "field_docs")}
    off = {k: v for k, v in shares.items() if not 0.0 <= v <= 1.0}
    if off:
        raise ConfigError(f"{', '.join(f'{k}={v}' for k, v in off.items())}: a share of documents, in [0, 1]")
    if tc.needle_distractors < 0:
        raise ConfigError(f"needle_distractors={tc.needle_distractors}: give 0 or more needles per document")
    if tc.code_pieces < 0:
        raise ConfigError(f"code_pieces={tc.code_pieces}: give 0 (whole modules) or the most tokens of a piece")
    if tc.track_people is not None and not (len(tc.track_people) == 2 and 1 <= tc.track_people[0] <= tc.track_people[1]):
        raise ConfigError(f"track_people={tc.track_people}: give [fewest, most] people a tracking story moves, "
                          f"1 <= fewest <= most")
    unknown = [t for t in tc.value_write_tasks or [] if t not in TASKS]
    if unknown:
        raise ConfigError(f"value_write_tasks {unknown}: choose from {', '.join(TASKS)}")
    if tc.unasked_write_weight and not tc.field_docs:
        raise ConfigError(f"unasked_write_weight={tc.unasked_write_weight} weighs the writes at field files: set "
                          "field_docs above 0 too")
    if tc.hard_negative_weight < 0 or not 0.0 < tc.hard_negative_beta < 1.0:
        raise ConfigError(f"hard_negative_weight={tc.hard_negative_weight}, hard_negative_beta={tc.hard_negative_beta}: "
                          "give a weight of 0 (off) or more and a write strength in (0, 1)")
    if tc.unasked_write_weight < 0:
        raise ConfigError(f"unasked_write_weight={tc.unasked_write_weight}: give 0 (off) or more")
    if tc.field_docs and not (tc.short_docs and tc.short_docs_apart and tc.text == "corpus"):
        raise ConfigError(f"field_docs={tc.field_docs} is a share of the short files drawn apart from the corpus: "
                          "set short_docs above 0, short_docs_apart=true and text=\"corpus\" too")
    for name in ("gap", "lead"):
        n, share = getattr(tc, f"{name}_segments"), getattr(tc, f"{name}_fraction")
        if n < 0 or not 0.0 <= share <= 1.0:
            raise ConfigError(f"{name}_segments={n}, {name}_fraction={share}: give 0 or more segments and a "
                              "share of steps in [0, 1]")


def train(run: Path, tc: TrainConfig | None = None, minutes: float | None = None, on_log=None,
          stop_at: int | None = None, *, device: str | None = None, threads: int | None = None) -> dict:
    """Train (or resume, when `run` holds a checkpoint) until tc.steps, step `stop_at` (the
    schedule still runs to tc.steps, so a later resume continues it), or `minutes` pass.

    A resumed run keeps its saved config except tc.steps; `device` and `threads`, when given,
    replace the config's (new or saved) ones: where a run goes on is not part of what it learns."""
    run = Path(run)
    where = {k: v for k, v in (("device", device), ("threads", threads)) if v is not None}
    ckpt = checkpoint_dir(run)
    gained: list[str] = []  # parameters a new phase adds to its init_from model (_from_model)
    if ckpt is not None:
        state = json.loads((ckpt / "state.json").read_text())
        tc = TrainConfig.from_dict({**state["train_config"], **({} if tc is None else {"steps": tc.steps}), **where})
        check_settings(tc)
        state["train_config"] = asdict(tc)
        set_threads(tc.threads)
        lm = load_model(ckpt / "model", device=tc.device)
        model, tok = _trainable(lm.model, tc), lm.tokenizer
        model.train()
        opt = make_optimizer(model, tc)
        load_optimizer(opt, ckpt / "optimizer.safetensors")
    else:
        tc = replace(tc or TrainConfig(), **where)
        check_settings(tc)
        set_threads(tc.threads)
        state = {"step": 0, "elapsed": 0.0, "train_config": asdict(tc), "tokens": 0}
        torch.manual_seed(tc.seed)
        if tc.init_from:
            model, tok, gained = _from_model(tc)
            model.train()
        else:
            tok = load_tokenizer(Path(tc.tokenizer)) if tc.tokenizer else ByteTokenizer()
            cfg = ModelConfig.from_name(tc.preset, vocab_size=tok.vocab_size, **tc.model_overrides)
            model = InfiniTransformer(cfg).to(tc.device)
        opt = make_optimizer(_trainable(model, tc), tc)
        run.mkdir(parents=True, exist_ok=True)
    S = model.cfg.segment_len
    bank = HistoryBank(model, tc.batch)
    if ckpt is not None:  # resume with the same histories, for an exact replay
        saved = load_file(str(ckpt / "bank.safetensors"))
        for i, layer in enumerate(bank.memory.layers):
            layer.M.copy_(saved[f"{i}.M"])
            layer.z.copy_(saved[f"{i}.z"])
    pools = run / "filler.safetensors"  # the encoded training text: a resume skips minutes of tokenizing
    if tc.text == "corpus" and pools.exists():
        filler = Filler.load(pools, tok, code_fraction=tc.code_fraction, prose_fraction=tc.prose_fraction)
    else:
        kinds = ("code", "prose", "fields") if tc.field_docs else ("code", "prose")
        texts = load_texts(kinds, max_files=tc.max_text_files) if tc.text == "corpus" else None
        filler = Filler(tok, code_fraction=tc.code_fraction, prose_fraction=tc.prose_fraction, texts=texts)
        if texts is not None:
            (run / "text.json").write_text(json.dumps(describe(texts), indent=2) + "\n")
            filler.save(pools)
    filler.short_docs, filler.short_docs_apart = tc.short_docs, tc.short_docs_apart
    filler.field_docs = tc.field_docs
    new_centres = isinstance(model, InfiniTransformer) and model.cfg.memory_center and (
        not tc.init_from or any(k.endswith(("attn.mem_center", "attn.mem_cov")) for k in gained))
    if ckpt is None and new_centres:  # at the mean of the memory's q and k on this run's text (model/center.py)
        text = filler.tokens(random.Random(f"{tc.seed}:center"), CENTER_SEGMENTS * S)
        fit_memory_center(model, torch.tensor([text], device=tc.device))
    teacher = _teacher(tc, tok) if tc.distill_weight else None
    code = (CodeFiles(tok, rename=tc.code_rename, pieces=tc.code_pieces > 0, max_tokens=tc.code_pieces or 1500)
            if tc.task_mix.get("code") or tc.task_mix.get("code_needle") else None)
    set_straight_through(model, tc)
    writes: list[torch.Tensor] = []  # write-strength logits of this step's forward: the log, write_penalty
    n_writing = 0
    for mod in model.modules():  # docqa's attention layers, or a converted model's memory branches
        if isinstance(getattr(mod, "write_strength", None), torch.nn.Linear):
            mod.write_strength.register_forward_hook(lambda _m, _inp, out: writes.append(out))
            n_writing += 1
    for name in ("value_write_layers", "unasked_write_layers", "hard_negative_layers"):
        bad = [i for i in getattr(tc, name) or [] if not 0 <= i < n_writing]
        if bad:
            raise ConfigError(f"{name} {bad}: the model has {n_writing} layers with a write strength "
                              f"(0..{n_writing - 1})")
    if tc.gap_segments and tc.gap_fraction:
        check_gap_model(model)  # before the first step, not at the first gap
    # address_weight: the memory's q and k of the chosen layers, for the rows that have facts to address
    qk: list[tuple[torch.Tensor, torch.Tensor]] = []
    rows: list[int] = []
    if tc.address_weight:
        if tc.address_sign not in (1.0, -1.0):
            raise ConfigError(f"address_sign={tc.address_sign} must be 1 or -1")
        if tc.address_negatives < 0:
            raise ConfigError(f"address_negatives={tc.address_negatives} must be 0 or more text tokens per document")
        if tc.address_kind not in ("nce", "gram"):
            raise ConfigError(f"address_kind={tc.address_kind!r}; choose 'nce' or 'gram'")
        if not isinstance(model, InfiniTransformer) or model.cfg.feature_map != "l2":
            raise ConfigError("address_weight needs docqa's own model with feature_map='l2' (unit keys: "
                              "the loss's cosines are what the memory reads with)")
        chosen = tc.address_layers if tc.address_layers is not None else range(1, model.cfg.n_layer)
        bad = [i for i in chosen if not 0 <= i < model.cfg.n_layer]
        if bad:
            raise ConfigError(f"address_layers {bad} are not layers of a {model.cfg.n_layer}-layer model")

        for i in chosen:
            model.blocks[i].attn.register_forward_pre_hook(address_capture(qk, rows, writes))
    t0, start_elapsed = time.time(), state["elapsed"]
    log = (run / "log.jsonl").open("a")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=tc.device == "cuda")
    while state["step"] < tc.steps:
        step = state["step"]
        rng = random.Random(f"{tc.seed}:{step}")  # resuming replays the same data stream
        ramp = min(1.0, step / max(1, tc.text_ramp_steps or tc.steps))
        filler.code_fraction, filler.prose_fraction = tc.code_fraction * ramp, tc.prose_fraction * ramp
        for g in opt.param_groups:
            base = {"gate": tc.gate_lr, "conv": tc.conv_lr}.get(g["name"], tc.lr)
            g["lr"] = base * lr_scale(step, tc)
        x, w, ans, n_seg, docs = make_batch(tok, rng, filler, tc, step, S, code)
        tasks = [d.task for d in docs]
        x, w, ans = x.to(tc.device), w.to(tc.device), ans.to(tc.device)
        use_bank = rng.random() < tc.history_fraction
        start = bank.advance(rng, filler, tc.history_advance, tc.history_reset) if use_bank else \
            model.new_memory(x.shape[0])
        lead = draw_lead(tc, random.Random(f"{tc.seed}:{step}:lead"), filler, docs, S)
        if lead is not None:  # before writes.clear(): the lead's writes are not this forward's
            start = stream_lead(model, start, lead.to(tc.device))
        writes.clear()
        qk.clear()
        targets = address_targets(docs, S, tc.address_negatives,
                                  random.Random(f"{tc.seed}:{step}:negatives")) if tc.address_weight else []
        rows[:] = [t[0] for t in targets]  # the hooks capture this forward only (not the bank's or an eval's)
        gap_at, gap = draw_gap(tc, random.Random(f"{tc.seed}:{step}:gap"), filler, docs, S)
        gap = None if gap is None else gap.to(tc.device)  # the student's forward and the teacher's read it
        with autocast:
            if gap is None:
                h, _ = model.hidden(x, start)
            else:
                h = hidden_across_gap(model, x, start, gap_at, gap, writes, qk, tc.gap_learn_writes)
        rows.clear()
        wt = w[:, :-1]
        sel = wt > 0  # the LM head runs only where a loss is taken
        logits = model.logits(h[:, :-1][sel]).float()  # (n_sel, V)
        ce = F.cross_entropy(logits, x[:, 1:][sel], reduction="none")
        loss = (ce * wt[sel]).sum() / wt[sel].sum()
        write = torch.stack([torch.sigmoid(b.float()).mean() for b in writes]).mean() if writes else None
        if tc.write_penalty:
            loss = loss + tc.write_penalty * write
        at = value_positions(docs, tc.value_write_span)
        per_layer = [b.flatten(1, 2)[at].float() for b in writes] if writes and at[0].numel() else None
        value_logits = torch.cat(per_layer) if per_layer else None
        asked = per_layer  # the value-write loss's logits: every task's values, or value_write_tasks' alone
        if tc.value_write_weight and writes and tc.value_write_tasks is not None:
            chosen = value_positions(docs, tc.value_write_span, tc.value_write_tasks)
            asked = [b.flatten(1, 2)[chosen].float() for b in writes] if chosen[0].numel() else None
        if tc.value_write_weight and asked:
            loss = loss + tc.value_write_weight * value_write_loss(asked, tc.value_write_layers)
        T = writes[0].shape[1] * writes[0].shape[2] if writes else 0  # the tokens the write strengths cover
        other = text_positions(docs, T) if writes and (tc.value_write_negatives or tc.hard_negative_weight) else None
        if tc.value_write_negatives and writes:
            loss = loss + tc.value_write_negatives * text_write_loss(writes, other, tc.value_write_layers)
        hard = None
        if tc.hard_negative_weight and writes:
            hard = hard_negative_loss(writes, other, tc.hard_negative_beta, tc.hard_negative_layers)
            loss = loss + tc.hard_negative_weight * hard[0]
        unasked = unasked_positions(docs, T) if tc.field_docs and writes else None
        if unasked is not None and not unasked.any():
            unasked = None
        if tc.unasked_write_weight and unasked is not None:
            loss = loss + tc.unasked_write_weight * text_write_loss(writes, unasked, tc.unasked_write_layers)
        distill_rows = [i for i, t in enumerate(tasks) if t in tc.distill_tasks] if teacher is not None else []
        distill = distill_loss(teacher, x, start, distill_rows, sel, wt, logits, gap_at, gap) if distill_rows else None
        if distill is not None:
            loss = loss + tc.distill_weight * distill
        address = address_loss(qk, targets, tc.address_scale, tc.address_sign, tc.address_kind) if targets else None
        if address is not None:
            loss = loss + tc.address_weight * address[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            a = ans[:, :-1][sel]
            right = logits.argmax(-1) == x[:, 1:][sel]
            ans_acc = float(right[a].float().mean())
            ans_loss = float(ce[a].mean())
            # by task: teacher-forced exact match of each document's whole answer, and the answer loss
            # pooled over the task's answer tokens (a task at 0 exact shows it move)
            wrong = torch.zeros_like(ans[:, :-1], dtype=torch.long)  # (B, T-1), as the answer mask
            wrong[sel] = (a & ~right).long()
            answer_ce = torch.zeros_like(wt, dtype=ce.dtype)
            answer_ce[sel] = ce * a
            n_answer = torch.zeros_like(wrong)
            n_answer[sel] = a.long()
            rows_by_task: dict[str, list[int]] = {}
            for i, t in enumerate(tasks):
                rows_by_task.setdefault(t or "default", []).append(i)
            exact_by_task = {t: float((wrong[r].sum(1) == 0).float().mean()) for t, r in rows_by_task.items()}
            loss_by_task = {t: float(answer_ce[r].sum() / n_answer[r].sum()) for t, r in rows_by_task.items()
                            if n_answer[r].sum() > 0}  # a language-model row has no answer
        state["step"] += 1
        state["tokens"] += int(x.numel())
        state["elapsed"] = start_elapsed + time.time() - t0
        entry = {"step": state["step"], "loss": round(float(loss.detach()), 4), "answer_loss": round(ans_loss, 4),
                 "answer_acc": round(ans_acc, 3), "segments": n_seg,
                 "exact": {t: round(v, 3) for t, v in sorted(exact_by_task.items())},
                 "answer_loss_by_task": {t: round(v, 4) for t, v in sorted(loss_by_task.items())}, "history": use_bank,
                 "elapsed": round(state["elapsed"], 1), "tokens": state["tokens"]}
        if gap is not None:
            entry["gap"] = gap.shape[1] // S
        if lead is not None:
            entry["lead"] = lead.shape[1] // S
        if write is not None:
            entry["write"] = round(float(write.detach()), 4)
        if value_logits is not None:  # the mean write strength at the facts' key tokens, and per layer
            entry["value_write"] = round(float(torch.sigmoid(value_logits.detach()).mean()), 4)
            entry["value_write_by_layer"] = [round(float(torch.sigmoid(v.detach()).mean()), 4) for v in per_layer]
        if unasked is not None:  # the mean write strength at the field files' tokens, per layer
            entry["unasked_write_by_layer"] = [round(float(torch.sigmoid(b.detach().flatten(1, 2)[:, :unasked.shape[1]]
                                                                      [unasked].float()).mean()), 4) for b in writes]
        if hard is not None:  # the text tokens (times heads) over hard_negative_beta, and their loss
            entry["hard_negatives"] = [hard[1], round(float(hard[0].detach()), 4)]
        if distill is not None:
            entry["distill"] = round(float(distill.detach()), 6)
        if address is not None:  # the address loss and how often the asked fact's key matched best
            entry["address"] = [round(float(address[0].detach()), 4), round(address[1], 3)]
        if state["step"] % 50 == 0:
            entry["gates"] = gate_stats(model)
        if tc.eval_every and state["step"] % tc.eval_every == 0:
            entry["eval"] = quick_eval(model, tok, run, tc.seed)
        log.write(json.dumps(entry) + "\n")
        log.flush()
        if on_log:
            on_log(entry)
        done = (state["step"] >= tc.steps or state["step"] == stop_at
                or (minutes is not None and time.time() - t0 > minutes * 60))
        if state["step"] % tc.save_every == 0 or done:
            model.eval()
            save_checkpoint(run, model, tok, opt, bank, state)
            model.train()
        if tc.keep_every and state["step"] % tc.keep_every == 0:
            save_model(model, tok, run / "models" / f"step-{state['step']}")
        if done:
            break
    log.close()
    return state
