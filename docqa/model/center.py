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


@torch.no_grad()
def fit_memory_center(model, tokens: torch.Tensor, chunk_segments: int = 16) -> None:
    """Set every layer's mem_center from tokens (B, T) (T at least one segment): in place."""
    if not model.cfg.memory_center:
        raise ConfigError("the model has no memory_center to fit; build it with memory_center=True")
    if tokens.shape[1] < model.cfg.segment_len:
        raise ConfigError(f"fitting memory_center needs at least one segment ({model.cfg.segment_len} tokens), "
                          f"got {tokens.shape[1]}")
    was_training = model.training
    model.eval()
    try:
        _fit(model, tokens, chunk_segments)
    finally:
        model.train(was_training)


def _fit(model, tokens: torch.Tensor, chunk_segments: int) -> None:
    for block in model.blocks:  # layers after the one being fitted start as the identity
        block.attn.mem_center.zero_()
        if block.attn.mem_cov is not None:
            block.attn.mem_cov.copy_(torch.eye(model.cfg.d_head))
    for block in model.blocks:
        attn = block.attn
        H, D = model.cfg.n_head, model.cfg.d_head
        sums = torch.zeros(2, H, D, dtype=torch.float64)
        squares = torch.zeros(2, H, D, D, dtype=torch.float64)
        count = 0

        def add(_module, args):  # args[0]: the layer's input x (B, T, C), from a segment boundary
            nonlocal count
            q, k, _ = attn.projections(args[0], raw=True)  # (B, H, T, D)
            for i, t in enumerate((q.double(), k.double())):
                sums[i] += t.sum((0, 2))
                squares[i] += torch.einsum("bhti,bhtj->hij", t, t)
            count += q.shape[0] * q.shape[2]

        hook = attn.register_forward_pre_hook(add)
        try:
            model.ingest(tokens, model.new_memory(tokens.shape[0]), chunk_segments=chunk_segments)
        finally:
            hook.remove()
        mean = sums / count
        attn.mem_center.copy_(mean)
        if attn.mem_cov is not None:  # covariance of the centred q and k: E[x x^T] - c c^T
            attn.mem_cov.copy_(squares / count - mean.unsqueeze(-1) * mean.unsqueeze(-2))
