"""The model seam: what ingest, answer, chat, bench, train and the LangChain model use of a model.

Two families implement it: docqa's own `InfiniTransformer` (transformer.py) and a Hugging Face
causal LM whose attention layers gain a memory branch (hf.py). `load_model(dir)` (io.py) picks
the family by what the directory holds and returns a `LoadedModel`. Everything above the model
goes through these names only, so a third family is one more module, not a second code path.

A memory's shapes are the family's choice (per head, or per KV head for grouped-query
attention); `Memory` stays a plain per-layer state that the store serialises unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from docqa.errors import ConfigError, InputError
from docqa.memory import Memory


class Tokenizer(Protocol):
    """Text <-> token ids. `encode` never yields a special token unless `allow_special` (so corpus
    text cannot forge a question or an end-of-answer marker); every non-special id has fixed bytes."""

    kind: str
    answer_prefix: str  # what a trained answer starts with after <|answer|> ("" or " ")
    special_tokens: dict[str, int]  # <|doc|>, <|question|>, <|answer|>, <|end|> at least
    id_to_special: dict[int, str]

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str, allow_special: bool = False) -> list[int]: ...

    def encode_batch(self, texts: list[str]) -> list[list[int]]: ...

    def decode(self, ids: list[int]) -> str: ...

    def token_bytes(self, i: int) -> bytes | None: ...

    def stream_decoder(self): ...

    def save(self, path: Path) -> None: ...


class Decoding(Protocol):
    """Cached decoding over a scratch copy of a memory (the memory given is never modified)."""

    def feed(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (1, T) continuing the stream -> logits of the last one (1, V)."""

    def end_segment(self) -> Memory:
        """Write the current segment to the scratch memory now, however short (the memory's pending
        tokens first, if not fed yet), exactly as a segment of S tokens is written; the next token
        fed opens a new segment. Returns the scratch memory after it (nothing pending)."""


class MemoryModel(Protocol):
    """A causal LM that streams segments through a compressive memory."""

    @property
    def device(self) -> torch.device: ...

    @property
    def segment_len(self) -> int: ...

    def new_memory(self, batch: int = 1) -> Memory: ...

    def __call__(self, tokens: torch.Tensor, memory: Memory | None = None,
                 use_memory: bool = True) -> tuple[torch.Tensor, Memory]:
        """tokens (B, T) continuing the stream -> (logits (B, T, V), memory after them), with gradients."""

    def ingest(self, tokens: torch.Tensor, memory: Memory, chunk_segments: int = 16,
               use_memory: bool = True) -> Memory:
        """Stream tokens (B, T) into memory, without gradients; any split of a stream gives one result."""

    def decoder(self, memory: Memory, use_memory: bool = True) -> Decoding: ...

    # for training (docqa.train.loop)

    def hidden(self, tokens: torch.Tensor, memory: Memory,
               use_memory: bool = True) -> tuple[torch.Tensor, Memory]:
        """Like __call__ without the LM head: (hidden states (B, T, C), memory after them)."""

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Hidden states from `hidden` -> logits (..., V)."""

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """'gate', 'decay', 'no_decay': the trainable parameters by optimiser treatment."""


class ModelInfo(Protocol):
    """The part of a family's config that callers read."""

    name: str
    segment_len: int


@dataclass
class LoadedModel:
    model: MemoryModel
    tokenizer: Tokenizer
    config: ModelInfo
    fingerprint: str  # sha256 hex identifying the exact weights, tokenizer and config
    path: Path

    @property
    def name(self) -> str:
        return f"{self.config.name}@{self.fingerprint[:12]}"


def ingest_in_chunks(model, tokens: torch.Tensor, memory: Memory, chunk_segments: int,
                     use_memory: bool) -> Memory:
    """`MemoryModel.ingest` for a model with `hidden(tokens, memory, use_memory)`: only complete
    segments reach the layers, the tail waits in `memory.pending`; `chunk_segments` segments per
    call bound the activation memory."""
    S = model.segment_len
    step = chunk_segments * S
    for i in range(0, tokens.shape[1], step):
        chunk = tokens[:, i:i + step]
        n_ready = (memory.pending.shape[1] + chunk.shape[1]) // S * S - memory.pending.shape[1]
        if n_ready > 0:
            _, memory = model.hidden(chunk[:, :n_ready], memory, use_memory)
        memory = Memory(memory.layers, torch.cat([memory.pending, chunk[:, max(n_ready, 0):]], 1),
                        memory.segments)
    return memory


def sample(logits: torch.Tensor, temperature: float, top_k: int | None,
           generator: torch.Generator | None) -> int:
    """Greedy when temperature is 0, else softmax sampling (optionally from the top k)."""
    if temperature <= 0:
        return int(logits.argmax(-1))
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return int(torch.multinomial(torch.softmax(logits, -1), 1, generator=generator))


# Answer tokens kept free after the question in its segment: 6 is the longest answer of the
# needle, named-fact and tracking tasks with the BPE tokenizer, <|end|> included; on the recall
# bench in unseen prose 4 recalled less where questions had straddled and 8 no more than 6
# (docs/TRAINING.md, "The question's segment").
ANSWER_RESERVE = 6


def question_cut(pending: int, prompt: int, segment_len: int, reserve: int = ANSWER_RESERVE) -> int:
    """How many of the `pending` tokens before a prompt to write to memory as a segment of their
    own: all of them, so that the question opens a segment and every fact reaches it through the
    memory. Training always stores a fact in a segment before the question's (docqa.train.tasks.
    build_doc), and a model trained so does not copy a fact from the question's own segment: with
    a needle in the pending tail (the last 127 tokens of 1,151), bpe-c2 recalled 1 of 20 when the
    tail stayed in the question's segment and 20 of 20 when it was written first
    (benchmarks/bench_tail.py; docs/TRAINING.md, "The pending tail"). 0 when the prompt and the reserve alone exceed a segment (a long chat
    history): the prompt then continues the tail and runs on past a segment boundary as it comes."""
    return pending if prompt + reserve <= segment_len else 0


def question_memory(model: MemoryModel, memory: Memory, prompt_len: int, reserve: int = ANSWER_RESERVE,
                    use_memory: bool = True) -> Memory:
    """The memory to run a prompt of `prompt_len` tokens from (what `generate` and attribution's
    `score` do): `memory` itself, or (see `question_cut`) a scratch copy in which the pending
    tokens were written as a short segment. `memory` is never modified."""
    k = question_cut(memory.pending.shape[1], prompt_len, model.segment_len, reserve)
    if k == 0:
        return memory
    head = Memory(memory.layers, memory.pending[:, :k], memory.segments)
    written = model.decoder(head, use_memory).end_segment()
    return Memory(written.layers, memory.pending[:, k:], written.segments)


def generate(model: MemoryModel, prompt: Iterable[int], memory: Memory, max_new_tokens: int,
             temperature: float = 0.0, top_k: int | None = None, stop_ids: Iterable[int] = (),
             generator: torch.Generator | None = None, use_memory: bool = True,
             reserve: int = ANSWER_RESERVE, contrast: float = 0.0) -> Iterator[int]:
    """Yield answer tokens one by one. Stops after a token in `stop_ids` (not yielded) or after
    `max_new_tokens`. The pending tail is written first, so that the prompt opens a segment
    (`question_memory`). `memory` is read-only; every write goes to a scratch copy.

    `contrast` (alpha > 0) decodes from (1 + alpha) log p(y | memory) - alpha log p(y | memory
    knocked out): what the memory adds over the model's prior, amplified (context-aware decoding,
    Shi et al. 2024, with the memory as the context), among the tokens the memory finds plausible
    (PLAUSIBLE). A recall miss is most often a value the model learned in training, not one the
    text holds (docs/TRAINING.md), i.e. the prior winning."""
    if contrast < 0:
        raise ConfigError(f"contrast={contrast}: give 0 (plain decoding) or more")
    device = model.device
    prompt = torch.tensor([list(prompt)], dtype=torch.long, device=device)
    if prompt.shape[1] == 0 and memory.pending.shape[1] == 0:
        raise InputError("empty prompt: give at least one token to answer from")
    decoders = [model.decoder(question_memory(model, memory, prompt.shape[1], reserve, use_memory), use_memory)]
    if contrast and use_memory:  # the knockout control of the benches: same tail, memory zeroed first
        prior = memory.clone().zero_()
        decoders.append(model.decoder(question_memory(model, prior, prompt.shape[1], reserve), True))
    stop = set(stop_ids)
    logits = _contrasted([d.feed(prompt) for d in decoders], contrast)
    for i in range(max_new_tokens):
        tok = sample(logits[0], temperature, top_k, generator)
        if tok in stop:
            return
        yield tok
        if i + 1 < max_new_tokens:
            logits = _contrasted([d.feed(torch.tensor([[tok]], device=device)) for d in decoders], contrast)


# Contrast chooses only among tokens the memory itself finds plausible: at least this share of its
# top token's probability (the adaptive plausibility constraint of contrastive decoding, Li et al.
# 2023). Without it a token the prior rules out wins on a small boost: 'banana' came back 'bananch'.
PLAUSIBLE = 0.1


def _contrasted(logits: list[torch.Tensor], contrast: float) -> torch.Tensor:
    """(B, V) next-token scores: the memory's logits alone, or its log-probs contrasted with the
    prior's over the tokens the memory finds plausible (PLAUSIBLE), -inf elsewhere."""
    if len(logits) == 1:
        return logits[0]
    with_memory, prior = (torch.log_softmax(x, -1, dtype=torch.promote_types(x.dtype, torch.float32)) for x in logits)
    implausible = with_memory < with_memory.max(-1, keepdim=True).values + math.log(PLAUSIBLE)
    return ((1 + contrast) * with_memory - contrast * prior).masked_fill(implausible, float("-inf"))


def answer_stops(tokenizer) -> list[int]:
    """The tokens that end an answer (`generate`'s stop_ids): <|end|>, or any other special marker."""
    return list(tokenizer.special_tokens.values())


def greedy_text(lm: LoadedModel, prompt: Iterable[int], memory: Memory, max_new_tokens: int,
                contrast: float = 0.0) -> str:
    """The greedy answer to `prompt` from `memory` as stripped text, ended as `docqa ask` ends one
    (answer_stops). The one decoding rule the recall benches and training's evaluation share."""
    stops = answer_stops(lm.tokenizer)
    return lm.tokenizer.decode(list(generate(lm.model, prompt, memory, max_new_tokens, stop_ids=stops,
                                             contrast=contrast))).strip()
