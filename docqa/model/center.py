"""Fit memory_center (ModelConfig.memory_center) to text: each layer's c_q and c_k become the mean
of the memory's queries and keys over a token stream, so the memory reads and writes what the
tokens do not share; with memory_whiten, their covariances too (the whitening's statistics).

Layers are fitted in order, each with every layer before it already centred, since centring a
layer's memory changes what it passes on. The model starts from the stream's empty memory, as
ingest does, in eval mode (stored centres, as at inference). The fit is where a model's centres
start; in training mode every forward then centres by its own means and moves the stored ones
towards them (InfiniAttention._memory_qk), as batch norm keeps its running mean.
"""

from __future__ import annotations

import torch

from docqa.errors import ConfigError
from docqa.model.infini import call_inputs


@torch.no_grad()
def memory_projections(model, tokens: torch.Tensor, chunk_segments: int = 16,
                       raw: bool = False) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Each layer's memory queries and keys (B, H, T, D), before the feature map, and write
    strengths (B, H, T), as `ingest` computes them on tokens (B, T) from an empty memory, in eval
    mode (the stored centres; a training-mode forward would move them). `raw`: before memory_center."""
    # each call's x (B, T, C), from a segment boundary, and its quiet_mask (Block.forward passes both)
    inputs: list[list[tuple]] = [[] for _ in model.blocks]
    hooks = [b.attn.register_forward_pre_hook(lambda _m, args, i=i: inputs[i].append(call_inputs(args)))
             for i, b in enumerate(model.blocks)]
    was_training = model.training
    model.eval()
    try:
        model.ingest(tokens, model.new_memory(tokens.shape[0]), chunk_segments=chunk_segments)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    out = []
    for block, xs in zip(model.blocks, inputs):
        parts = [block.attn.projections(x, raw=raw, quiet=quiet) for x, quiet in xs]
        out.append(tuple(torch.cat([p[i] for p in parts], -2 if i < 2 else -1) for i in range(3)))
    return out


@torch.no_grad()
def fit_memory_center(model, tokens: torch.Tensor, chunk_segments: int = 16) -> None:
    """Set every layer's mem_center (and mem_cov) from tokens (B, T) (T at least one segment): in place."""
    if not model.cfg.memory_center:
        raise ConfigError("the model has no memory_center to fit; build it with memory_center=True")
    if tokens.shape[1] < model.cfg.segment_len:
        raise ConfigError(f"fitting memory_center needs at least one segment ({model.cfg.segment_len} tokens), "
                          f"got {tokens.shape[1]}")
    for block in model.blocks:  # layers after the one being fitted start as the identity
        block.attn.mem_center.zero_()
        if block.attn.mem_cov is not None:
            block.attn.mem_cov.copy_(torch.eye(model.cfg.d_head))
    for i, block in enumerate(model.blocks):  # in order: layer i's inputs depend on the centres before it
        q, k, _ = memory_projections(model, tokens, chunk_segments, raw=True)[i]  # (B, H, T, D)
        flat = torch.stack([t.double().transpose(0, 1).flatten(1, 2) for t in (q, k)])  # (2, H, B*T, D)
        mean = flat.mean(2)
        block.attn.mem_center.copy_(mean)
        if block.attn.mem_cov is not None:  # covariance of the centred q and k
            centred = flat - mean.unsqueeze(2)
            block.attn.mem_cov.copy_(centred.transpose(-1, -2) @ centred / flat.shape[2])
