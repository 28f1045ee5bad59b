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

With `learn_writes` the gap's writes learn too, one layer deep: each layer's keys, values and write
strengths are recomputed with a graph from that layer's input as the stream gave it (held fixed), and
the delta rule runs over them with a graph (infini.delta_scan). The answer's loss then charges each
text token for what its write erases of the facts, through the layer's own weights; what a layer's
output does to the next layer's writes, and the reads inside the gap, stay cut.
"""

from __future__ import annotations

import torch

from docqa.errors import ConfigError
from docqa.memory import LayerMemory, Memory
from docqa.model.infini import InfiniAttention, call_inputs, delta_scan, delta_transition, feature_map
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


def stream_calls(model, attns: list[InfiniAttention], memory: Memory, tokens: torch.Tensor, chunk_segments: int,
                 on_call) -> Memory:
    """Stream `tokens` (B, G*S) into `memory` without a graph, chunk by chunk, calling
    on_call(i, x, quiet) with each call's input to attns[i] as it happens (x (B, chunk_segments*S, C);
    quiet as Block.forward passes it) -> the memory after them."""
    S = model.cfg.segment_len
    if memory.pending.shape[1] or tokens.shape[1] % S:
        raise ConfigError(f"a gap starts and ends at a segment boundary: {memory.pending.shape[1]} pending "
                          f"tokens, a gap of {tokens.shape[1]} tokens at segment_len {S}")
    hooks = [a.register_forward_pre_hook(lambda _m, args, i=i: on_call(i, *call_inputs(args)))
             for i, a in enumerate(attns)]
    try:
        with torch.no_grad():
            memory = memory.detach()
            for i in range(0, tokens.shape[1], chunk_segments * S):
                _, memory = model.hidden(tokens[:, i:i + chunk_segments * S], memory)
    finally:
        for h in hooks:
            h.remove()
    return memory


def stream_gap(model, memory: Memory, tokens: torch.Tensor, chunk_segments: int = 16,
               learn_writes: bool = False) -> Memory:
    """The memory after `tokens` (B, G*S), with the gradient of the module docstring: d M_after / d M
    is the gap's composed erasure P, its own writes held fixed, or with `learn_writes` also learning
    one layer deep. `memory` has no pending tokens."""
    cfg = model.cfg
    attns = check_gap_model(model)
    if learn_writes:  # the delta rule over the gap with a graph (z is never read: l2), from each layer's inputs
        inputs: list[list[tuple]] = [[] for _ in attns]
        after = stream_calls(model, attns, memory, tokens, chunk_segments,
                             lambda i, x, quiet: inputs[i].append((x, quiet)))
        layers = []
        for attn, xs, m in zip(attns, inputs, memory.layers):
            M, z = m.M, m.z
            for x, quiet in xs:
                k, v, beta = attn.segment_writes(x, quiet)  # (B, N, H, S, D), (B, N, H, S)
                Ms, zs = delta_scan(M, z, feature_map(k.to(M.dtype), cfg.feature_map, dense=True), v.to(M.dtype),
                                    beta.to(M.dtype), cfg.memory_decay)
                M, z = Ms[-1], zs[-1]
            layers.append(LayerMemory(M, z))
        return Memory(layers, after.pending, after.segments)
    # Held writes: each layer's P folded in as its chunk streams, so that no chunk's inputs are kept (at batch
    # 8 they were ~0.55 GB per 256 segments, benchmarks/bench_gap_memory.py, and a run was OOM-killed with them)
    P = [torch.eye(cfg.d_head, dtype=m.M.dtype, device=m.M.device).expand(*m.M.shape[:2], -1, -1)
         for m in memory.layers]  # float32, or float64 for the reference tests

    def fold(i: int, x: torch.Tensor, quiet: torch.Tensor | None) -> None:
        k, _, beta = attns[i].segment_writes(x, quiet)
        sk = feature_map(k.to(P[i].dtype), cfg.feature_map, dense=True)
        seg = delta_transition(sk, sk[..., :1], beta.to(P[i].dtype)).P  # (B, N, H, Dk, Dk); Q unused
        for n in range(seg.shape[1]):  # in order: P_n (alpha ...)
            P[i] = seg[:, n] @ (cfg.memory_decay * P[i])

    after = stream_calls(model, attns, memory, tokens, chunk_segments, fold)
    decay = cfg.memory_decay ** (tokens.shape[1] // cfg.segment_len)
    layers = [LayerMemory(a.M + p @ (m.M - m.M.detach()), a.z + decay * (m.z - m.z.detach()))
              for m, a, p in zip(memory.layers, after.layers, P)]
    return Memory(layers, after.pending, after.segments)
