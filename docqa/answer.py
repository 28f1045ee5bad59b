"""Answering: a prompt from a template in prompts/, run as the next segment over a read-only memory.

The stored snapshot is never modified: generation works on a scratch copy (see
`docqa.model.base.generate`). Text arrives piece by piece; `AnswerStream` keeps the
counts and timings that `--json` and the LangChain model report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from docqa.errors import InputError
from docqa.memory import Memory
from docqa.model.base import LoadedModel, answer_stops, generate
from docqa.prompt import DEFAULT_MAX_TOKENS, prompt_limit


@dataclass
class AnswerStream:
    """Iterate for text pieces; after the iteration, the counts and timings are filled in."""

    lm: LoadedModel
    memory: Memory
    prompt: list[int]
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    contrast: float = 0.0  # decode by what the memory adds over the model without it (model.base.generate)
    text: str = ""
    answer_tokens: int = 0
    first_token_s: float | None = None
    total_s: float = 0.0
    finish_reason: str = ""

    def __post_init__(self) -> None:
        S = self.lm.config.segment_len
        limit = prompt_limit(S)
        if len(self.prompt) > limit:
            raise InputError(f"the prompt is {len(self.prompt)} tokens; this model takes at most {limit} "
                             f"({limit // S} segments of {S}): shorten the question")
        if self.max_tokens < 1:
            raise InputError(f"max tokens must be at least 1, got {self.max_tokens}")
        if self.contrast < 0:
            raise InputError(f"contrast must be 0 (plain decoding) or more, got {self.contrast}")

    def __iter__(self) -> Iterator[str]:
        if self.finish_reason:  # generated already: the same answer again, not a second one appended
            if self.text:
                yield self.text
            return
        t0 = time.perf_counter()
        gen = torch.Generator(device=self.lm.model.device)
        if self.seed is not None:
            gen.manual_seed(self.seed)
        else:  # this generator's own random seed: torch.seed() would also reseed the global one (and probe CUDA)
            gen.seed()
        decoder = self.lm.tokenizer.stream_decoder()
        held = ""  # text that might be the start of a stop sequence
        self.finish_reason = "length"
        for tok in generate(self.lm.model, self.prompt, self.memory, self.max_tokens, self.temperature,
                            self.top_k, stop_ids=answer_stops(self.lm.tokenizer), generator=gen,
                            contrast=self.contrast):
            if self.first_token_s is None:
                self.first_token_s = time.perf_counter() - t0
            self.answer_tokens += 1
            held += decoder.push(tok)
            if not self.text:  # subword models answer " value" (see BPETokenizer.answer_prefix)
                held = held.lstrip()
            hit = next((s for s in self.stop if s and s in held), None)
            if hit:
                piece = held[:held.index(hit)]
                self.text += piece
                if piece:
                    yield piece
                self.finish_reason = "stop"
                break
            keep = max((len(s) - 1 for s in self.stop if s), default=0)
            out, held = (held[:len(held) - keep], held[len(held) - keep:]) if keep else (held, "")
            if out:
                self.text += out
                yield out
        else:
            if self.answer_tokens < self.max_tokens:
                self.finish_reason = "stop"
            held += decoder.flush()
            held = held if self.text else held.lstrip()
            if held:
                self.text += held
                yield held
        self.total_s = time.perf_counter() - t0

    def run(self) -> str:
        for _ in self:
            pass
        return self.text
