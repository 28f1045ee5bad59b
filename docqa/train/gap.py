"""A gap of text between a document's facts and its question: retention past the training length.

Training documents stop at a few hundred segments, and gradient through every segment costs a
forward and a backward per token; a corpus asks a fact back after thousands. A gap is text streamed
into the memory after the facts and before the question, without a graph, through which the
answer's gradient still reaches the writes before it.

Under the token-level delta rule a segment's write is an affine map of the memory it starts from,
M -> P_n M + Q_n (model.infini.delta_transition), and with memory_decay alpha, M -> P_n (alpha M) + Q_n.
Holding the gap's keys, values and write strengths at what they are when streamed from this
memory (no gradient into them), G segments compose to

    M_after = P M + Q,    P = P_G alpha ... P_1 alpha    (Dk, Dk) per layer and head,

so `M_after(no grad) + P (M - stopgrad(M))` has the value of streaming the gap and the gradient
d M_after / d M = P: the answer's loss reaches the facts' writes through the gap's erasures, and
rewards writing where text does not erase. The gap's own writes learn nothing from it (truncated
backpropagation; the write penalty still pushes them down in the document). z follows the same
way with P = alpha^G I. The gap costs one forward without a graph and G products of Dk x Dk.
"""

from __future__ import annotations

import torch

from docqa.errors import ConfigError
from docqa.memory import LayerMemory, Memory
from docqa.model.infini import InfiniAttention, delta_transition, feature_map
from docqa.model.transformer import InfiniTransformer


def check_gap_model(model) -> list[InfiniAttention]:
    """The model's attention layers, or ConfigError where a gap's map would not be the model's."""
    if not isinstance(model, InfiniTransformer):
        raise ConfigError("a gap needs docqa's own model (InfiniTransformer), not a converted one")
    if model.cfg.update != "token_delta":
        raise ConfigError(f"a gap needs the token-level delta rule (update='token_delta'), not {model.cfg.update!r}")
    attns = [m for m in model.modules() if isinstance(m, InfiniAttention)]
    if any(a.mem_center is not None for a in attns):  # training's forward centres by its own batch
        raise ConfigError("a gap holds the keys projections() gives, centred by the stored centres, while a "
                          "training forward centres by its batch: train without memory_center, or without a gap")
    return attns


def gap_transitions(model, memory: Memory, tokens: torch.Tensor, chunk_segments: int = 16
                    ) -> tuple[Memory, list[torch.Tensor]]:
    """Stream `tokens` (B, G*S) into `memory` without a graph -> (the memory after them, each
    layer's composed P (B, H, Dk, Dk) over the gap, decay included)."""
    attns = check_gap_model(model)
    cfg = model.cfg
    S = cfg.segment_len
    if memory.pending.shape[1] or tokens.shape[1] % S:
        raise ConfigError(f"a gap starts and ends at a segment boundary: {memory.pending.shape[1]} pending "
                          f"tokens, a gap of {tokens.shape[1]} tokens at segment_len {S}")
    dt = memory.layers[0].M.dtype  # float32, or float64 for the reference tests
    eye = torch.eye(cfg.d_head, dtype=dt, device=tokens.device)
    P = [eye.expand(tokens.shape[0], cfg.n_head, -1, -1).clone() for _ in attns]
    inputs: list[torch.Tensor] = []
    hooks = [a.register_forward_pre_hook(lambda _m, args: inputs.append(args[0])) for a in attns]
    try:
        with torch.no_grad():
            memory = memory.detach()
            for i in range(0, tokens.shape[1], chunk_segments * S):
                inputs.clear()
                _, memory = model.hidden(tokens[:, i:i + chunk_segments * S], memory)
                for layer, (attn, x) in enumerate(zip(attns, inputs)):
                    _, k, beta = attn.projections(x)  # (B, H, T, Dk), gated (B, H, T): what was written
                    B, H, T, D = k.shape
                    sk = feature_map(k.to(dt).reshape(B, H, T // S, S, D), cfg.feature_map, dense=True)
                    beta = beta.to(dt).reshape(B, H, T // S, S)
                    seg = delta_transition(sk, sk[..., :1], beta).P  # (B, H, N, Dk, Dk); Q unused
                    for n in range(seg.shape[2]):  # in order: P_n (alpha ...)
                        P[layer] = seg[:, :, n] @ (cfg.memory_decay * P[layer])
    finally:
        for h in hooks:
            h.remove()
    return memory, P


def stream_gap(model, memory: Memory, tokens: torch.Tensor, chunk_segments: int = 16) -> Memory:
    """The memory after `tokens` (B, G*S), with the gradient of the module docstring: d M_after / d M
    is the gap's composed erasure P; its own writes are held fixed. `memory` has no pending tokens."""
    after, P = gap_transitions(model, memory, tokens, chunk_segments)
    decay = model.cfg.memory_decay ** (tokens.shape[1] // model.cfg.segment_len)
    layers = [LayerMemory(a.M + P_l @ (m.M - m.M.detach()), a.z + decay * (m.z - m.z.detach()))
              for a, m, P_l in zip(after.layers, memory.layers, P)]
    return Memory(layers, after.pending, after.segments)
