"""The decoder-only transformer around Infini-attention: blocks, LM head, streaming and decoding.

- `forward(tokens, memory)`: logits for a stretch of the stream, and the memory after it.
- `ingest(tokens, memory)`: the same without the LM head or gradients, in bounded chunks.
- `decoder(memory)`: cached decoding, for `docqa.model.base.generate` (answers as the next
  segment(s) over a read-only memory).

This is one family behind the seam of `docqa.model.base`; hf.py is the other.

A stream is cut into segments of S tokens from its start. `Memory.pending` holds the tokens of
the unfinished last segment, so every call continues exactly where the previous one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from docqa.errors import InputError
from docqa.memory import LayerMemory, Memory
from docqa.model.base import ingest_in_chunks
from docqa.model.config import ModelConfig
from docqa.model.infini import InfiniAttention, SegmentCache, init_weights
from docqa.model.write_gate import quiet_mask


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model, bias=False)
        self.fc2 = nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, next_value: bool = False):
        super().__init__()
        self.norm1 = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
        self.attn = InfiniAttention(cfg, next_value)
        self.norm2 = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, mem: LayerMemory, use_memory: bool = True, quiet: torch.Tensor | None = None):
        """Pre-norm residual block: x (B, T, C) -> (x + attn + mlp (B, T, C), memory after it);
        `quiet` (B, T): the tokens that write nothing (write_gate.quiet_mask)."""
        a, mem = self.attn(self.norm1(x), mem, use_memory, quiet)
        x = x + a
        return x + self.mlp(self.norm2(x)), mem

    def step(self, x: torch.Tensor, cache: SegmentCache, mem: LayerMemory, use_memory: bool = True) -> torch.Tensor:
        """The same block for cached decoding (see InfiniAttention.step): memory read, never written."""
        x = x + self.attn.step(self.norm1(x), cache, mem, use_memory)
        return x + self.mlp(self.norm2(x))


class InfiniTransformer(nn.Module):
    def __init__(self, cfg: ModelConfig, init: bool = True):
        """init=False leaves out the random initialisation, for a model whose every parameter is
        about to be replaced by loaded ones (docqa.model.io: on the path of every `docqa ask`)."""
        super().__init__()
        self.cfg = cfg
        V, C = cfg.vocab_size, cfg.d_model
        # from_pretrained: an embedding without nn.Embedding's own N(0, 1) draw (V x C numbers)
        self.emb = nn.Embedding(V, C) if init else nn.Embedding.from_pretrained(torch.empty(V, C), freeze=False)
        self.blocks = nn.ModuleList(Block(cfg.layer_config(i), next_value=cfg.next_value(i))
                                    for i in range(cfg.n_layer))
        self.norm_f = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
        if init:
            nn.init.normal_(self.emb.weight, 0.0, 0.02)
            init_weights(self, cfg.n_layer)

    @property
    def device(self) -> torch.device:
        return self.emb.weight.device

    @property
    def segment_len(self) -> int:
        return self.cfg.segment_len

    def new_memory(self, batch: int = 1) -> Memory:
        c, w = self.cfg, self.emb.weight
        # float32 always; float64 only for a float64 model (the reference tests)
        dtype = torch.float64 if w.dtype == torch.float64 else torch.float32
        return Memory.zeros(c.n_layer, c.n_head, c.d_head, c.d_head, batch=batch, device=w.device, dtype=dtype)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.norm_f(h) @ self.emb.weight.T  # tied embeddings: (B, T, V)

    def hidden(self, tokens: torch.Tensor, memory: Memory, use_memory: bool = True):
        """tokens (B, T) continuing the stream after `memory` -> (hidden (B, T, C), new memory).

        The memory's pending tokens are run first (they open the current segment); their
        hidden states are dropped from the result.
        """
        P = memory.pending.shape[1]
        all_tokens = torch.cat([memory.pending, tokens], 1)
        if not all_tokens.shape[1]:  # no segment to read or write: the memory scan needs one
            return self.emb(tokens), memory
        x = self.emb(all_tokens)  # (B, P+T, C)
        quiet = quiet_mask(self.cfg, all_tokens)  # all_tokens opens a segment
        layers = []
        for block, mem in zip(self.blocks, memory.layers):
            x, mem = block(x, mem, use_memory, quiet)
            layers.append(mem)
        n_full = all_tokens.shape[1] // self.cfg.segment_len
        new = Memory(layers, pending=all_tokens[:, n_full * self.cfg.segment_len:],
                     segments=memory.segments + n_full)
        return x[:, P:], new

    def forward(self, tokens: torch.Tensor, memory: Memory | None = None, use_memory: bool = True):
        """tokens (B, T) -> (logits (B, T, V), memory after them). Gradients flow through memory."""
        memory = self.new_memory(tokens.shape[0]) if memory is None else memory
        h, memory = self.hidden(tokens, memory, use_memory)
        return self.logits(h), memory

    @torch.no_grad()
    def ingest(self, tokens: torch.Tensor, memory: Memory, chunk_segments: int = 16,
               use_memory: bool = True) -> Memory:
        """Stream tokens (B, T) into memory. Results do not depend on how a stream is split
        across calls. Works `chunk_segments` segments at a time to bound activation memory."""
        return ingest_in_chunks(self, tokens, memory, chunk_segments, use_memory)

    def decoder(self, memory: Memory, use_memory: bool = True) -> Decoder:
        return Decoder(self, memory, use_memory)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """'gate' (eq. 10 gates: own learning rate, no weight decay), 'decay' (matrices), 'no_decay'
        (norms, biases, the short conv); a frozen parameter (TrainConfig.freeze) is in none."""
        groups: dict[str, list[nn.Parameter]] = {"gate": [], "decay": [], "no_decay": []}
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            decays = p.dim() == 2 and not name.endswith("attn.conv")  # decay would pull the conv off identity
            key = "gate" if name.endswith("attn.gate") else "decay" if decays else "no_decay"
            groups[key].append(p)
        return groups


@dataclass
class DecodeState:
    """A scratch copy of the memory plus the current segment's caches, one per layer."""

    memory: Memory
    caches: list[SegmentCache]
    tokens: list[torch.Tensor] = field(default_factory=list)  # the current segment's, under quiet spans only


class Decoder:
    """Runs tokens one segment-piece at a time with a KV cache; commits full segments to a
    scratch memory. The memory it was given is never modified."""

    def __init__(self, model: InfiniTransformer, memory: Memory, use_memory: bool = True):
        if memory.batch != 1:
            raise InputError(f"decoding takes one stream at a time, got a memory of batch {memory.batch}")
        self.model, self.use_memory = model, use_memory
        scratch = memory.clone()
        self.state = DecodeState(Memory(scratch.layers, scratch.pending[:, :0], scratch.segments),
                                 [SegmentCache() for _ in model.blocks])
        self._pending = memory.pending

    @torch.no_grad()
    def feed(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (1, T) -> logits of the last token (1, V). The memory's pending tokens go first."""
        if self._pending is not None:
            tokens, self._pending = torch.cat([self._pending, tokens], 1), None
        S, logits = self.model.cfg.segment_len, None
        while tokens.shape[1]:
            room = S - len(self.state.caches[0])
            piece, tokens = tokens[:, :room], tokens[:, room:]
            x = self.model.emb(piece)
            if self.model.cfg.quiet_open:  # kept only for the segment's quiet_mask at commit
                self.state.tokens.append(piece)
            for block, cache, mem in zip(self.model.blocks, self.state.caches, self.state.memory.layers):
                x = block.step(x, cache, mem, self.use_memory)
            logits = self.model.logits(x[:, -1:])[:, 0]
            if len(self.state.caches[0]) == S:
                self._commit()
        return logits

    @torch.no_grad()
    def end_segment(self) -> Memory:
        """Write the current segment now, however short (see docqa.model.base.Decoding): its keys
        and values go to memory exactly as forward() writes a segment; the next token starts at
        position 0 with an empty cache, as after a full one."""
        if self._pending is not None:
            self.feed(self._pending[:, :0])  # the memory's pending tokens are part of this segment
        if len(self.state.caches[0]):
            self._commit()
        return self.state.memory

    def _commit(self) -> None:
        m = self.state.memory
        quiet = quiet_mask(self.model.cfg, torch.cat(self.state.tokens, 1)) if self.state.tokens else None
        layers = [blk.attn.commit(c, mem, quiet) if self.use_memory else mem
                  for blk, c, mem in zip(self.model.blocks, self.state.caches, m.layers)]
        self.state = DecodeState(Memory(layers, m.pending, m.segments + 1), [SegmentCache() for _ in layers])
