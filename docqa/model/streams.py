"""Several streams through one model call: memories whose pending tails differ in length.

`model.ingest(tokens (B, T), memory)` advances B streams in lockstep: one pending tail length
for all. `ingest_streams` advances streams that are each at their own place (each memory of
batch 1, its own pending tail, its own new tokens): every call of the layers takes, from each
stream still running, its pending tail and then new tokens up to a whole number of segments,
so every row of the batch starts at a segment boundary and nothing is padded. Streams that
can fill the same number of segments share a call; what is left of each (less than a
segment) waits in its memory's pending tail, as `ingest` leaves it.

Each stream's memory equals what `model.ingest` of that stream alone gives, up to
floating-point rounding: the memory math works per segment and per stream (bit for bit, see
docqa.model.infini), the other layers work per token row, and whether a BLAS gives a row the
same bits in a larger batch is the BLAS's affair (the shipped shapes on CPU: yes).
Works for any family with `hidden(tokens, memory, use_memory)` and `segment_len`.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from docqa.errors import InputError
from docqa.memory import LayerMemory, Memory


def stack(memories: list[Memory]) -> Memory:
    """Memories of batch 1 and no pending tail -> one memory of batch len(memories)."""
    layers = [LayerMemory(torch.cat([m.layers[i].M for m in memories]), torch.cat([m.layers[i].z for m in memories]))
              for i in range(len(memories[0].layers))]
    return Memory(layers, memories[0].pending.new_zeros(len(memories), 0), 0)


def ingest_streams(model, streams: list[torch.Tensor], memories: list[Memory], chunk_segments: int = 16,
                   use_memory: bool = True) -> list[Memory]:
    """Advance memories[i] (batch 1) by streams[i] (1, T_i); the T_i and the pending tails may all
    differ. Batches the streams' calls of the layers, at most `chunk_segments` segments per call.
    Returns the new memories, in order; the inputs are not modified."""
    if len(streams) != len(memories):
        raise InputError(f"{len(streams)} streams but {len(memories)} memories")
    if chunk_segments < 1:
        raise InputError(f"chunk_segments={chunk_segments} must be at least 1")
    for i, (s, m) in enumerate(zip(streams, memories)):
        if m.batch != 1 or s.dim() != 2 or s.shape[0] != 1:
            raise InputError(f"stream {i}: want tokens (1, T) and a memory of batch 1, got tokens "
                             f"{tuple(s.shape)} and a memory of batch {m.batch}")
    S = model.segment_len
    todo = [torch.cat([m.pending, s.to(m.pending.device)], 1) for s, m in zip(streams, memories)]  # (1, P_i + T_i)
    done = [0] * len(todo)  # tokens of todo[i] already through the layers
    state = [Memory(m.layers, m.pending[:, :0], m.segments) for m in memories]
    while True:
        groups = defaultdict(list)  # segments this call -> streams that can fill that many
        for i, t in enumerate(todo):
            n = min(chunk_segments, (t.shape[1] - done[i]) // S)
            if n:
                groups[n].append(i)
        if not groups:
            break
        for n, rows in sorted(groups.items(), reverse=True):
            tokens = torch.cat([todo[i][:, done[i]:done[i] + n * S] for i in rows])  # (G, n*S)
            _, after = model.hidden(tokens, stack([state[i] for i in rows]), use_memory)
            for g, i in enumerate(rows):
                layers = [LayerMemory(l.M[g:g + 1], l.z[g:g + 1]) for l in after.layers]
                state[i] = Memory(layers, state[i].pending, state[i].segments + n)
                done[i] += n * S
    return [Memory(s.layers, t[:, d:], s.segments) for s, t, d in zip(state, todo, done)]
