"""A slow reference for the Infini-attention transformer, written straight from the equations.

Loops over batch elements, heads, segments and (for the token-level delta rule) tokens; no
batching tricks, no triangular solves. Used by the tests, in float64, to check the fast path
in `infini.py` / `transformer.py` (outputs and gradients). It shares only the parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from docqa.errors import ConfigError
from docqa.model.infini import whitening
from docqa.model.transformer import InfiniTransformer


def sigma(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "elu1":
        return F.elu(x) + 1
    if kind == "l2":
        return x / x.norm()
    raise ConfigError(f"unknown feature map {kind!r}")


def rotate(x: torch.Tensor, pos: int, base: float) -> torch.Tensor:
    """Rotary position for one vector x (D,): pairs (x_i, x_{i+D/2}) rotated by pos * base^(-2i/D)."""
    d = x.shape[0]
    out = x.clone()
    for i in range(d // 2):
        theta = pos * base ** (-2 * i / d)
        a, b = x[i], x[i + d // 2]
        out[i] = a * math.cos(theta) - b * math.sin(theta)
        out[i + d // 2] = b * math.cos(theta) + a * math.sin(theta)
    return out


def segment_spans(T: int, S: int, cuts=()) -> list[tuple[int, int, bool]]:
    """(start, end, written) of each segment of a stream of T tokens: S tokens each, or fewer where
    a position in `cuts` ends one early (written like a full one); a trailing partial segment is
    read, not written."""
    spans, s0 = [], 0
    while s0 < T:
        end = min([s0 + S, T] + [c for c in cuts if c > s0])
        spans.append((s0, end, end - s0 == S or end in cuts))
        s0 = end
    return spans


def quiet_tokens(cfg, tokens: list[int], cuts=()) -> list[bool]:
    """Whether each token writes nothing (ModelConfig.quiet_open, quiet_close): from an opening token
    through the first closing one, a span never running past its segment."""
    quiet = []
    for s0, end, _ in segment_spans(len(tokens), cfg.segment_len, cuts):
        inside = False
        for t in range(s0, end):
            inside = inside or tokens[t] in cfg.quiet_open
            quiet.append(inside)
            if tokens[t] in cfg.quiet_close:
                inside = False
    return quiet


def naive_attention(layer, x: torch.Tensor, M0: torch.Tensor, z0: torch.Tensor, cuts=(),
                    gate: tuple[float, int, int, int] | None = None, straight_through: bool = False,
                    quiet: list[bool] | None = None, next_value: bool = False):
    """x (T, C) for one batch element; M0 (H, D, D), z0 (H, D); segments as `segment_spans` cuts
    them. `gate`: (write_threshold, write_window, write_skip, write_floor), None for the layer
    config's. `quiet`: the tokens that write nothing (quiet_tokens). `next_value`: each key is
    written with the next token's value (ModelConfig.next_value_layers). Returns y (T, C), M, z."""
    cfg = layer.cfg
    threshold, window, skip, floor = (cfg.write_threshold, cfg.write_window, cfg.write_skip,
                                      cfg.write_floor) if gate is None else gate
    H, D, S, T = cfg.n_head, cfg.d_head, cfg.segment_len, x.shape[0]
    spans = segment_spans(T, S, cuts)
    start = [s0 for s0, end, _ in spans for _ in range(s0, end)]  # each token's segment start
    qkv = x @ layer.qkv.weight.T
    if cfg.short_conv:  # causal depthwise conv inside each segment, zeros before its start
        K, raw = cfg.short_conv, qkv
        qkv = torch.stack([
            sum(layer.conv[:, j] * raw[t - (K - 1) + j] for j in range(K)
                if t - (K - 1) + j >= start[t])
            for t in range(T)])
    q, k, v = qkv[:, :cfg.d_model], qkv[:, cfg.d_model:2 * cfg.d_model], qkv[:, 2 * cfg.d_model:]
    qm, km = q, k  # the memory's queries and keys (eq. 7-9): local attention's, plus memory_qk's own
    if layer.mem_qk is not None:
        d = x @ layer.mem_qk.weight.T
        qm, km = q + d[:, :cfg.d_model], k + d[:, cfg.d_model:]
    if layer.mem_center is not None:  # memory_center: c_q, c_k per head, laid out as q and k are
        qm, km = qm - layer.mem_center[0].flatten(), km - layer.mem_center[1].flatten()
    if layer.mem_cov is not None:  # memory_whiten: each head's slice times W = (Sigma + eps I)^-1/2
        W = whitening(layer.mem_cov).to(x.dtype)  # (2, H, D, D)
        qm, km = (torch.cat([t[:, h * cfg.d_head:(h + 1) * cfg.d_head] @ W[i, h] for h in range(cfg.n_head)], 1)
                  for i, t in enumerate((qm, km)))
    if layer.write_strength is not None:
        beta_all = torch.sigmoid(x @ layer.write_strength.weight.T + layer.write_strength.bias)  # (T, H)
        if quiet is not None:  # before the threshold: a quiet token keeps no neighbour
            beta_all = torch.stack([beta_all[t] * 0 if quiet[t] else beta_all[t] for t in range(T)])
        if threshold:  # a write at or below it is no write, unless a token within
            # write_window positions of it in its segment clears it; none in the segment's first
            # write_skip positions
            # write_floor: among its segment's floor largest past the skip. On a tie this keeps every
            # tied write where write_gate's topk keeps floor of them; betas tie only at 0 (quiet: no
            # write either way) or at 1.0, which clears any threshold.
            def strongest(t: int, h: int) -> bool:
                rivals = [u for u in range(T) if start[u] == start[t] and u - start[u] >= skip]
                return sum(bool(beta_all[u, h] > beta_all[t, h]) for u in rivals) < floor
            def kept(t: int, h: int) -> bool:
                near = [u for u in range(t - window, t + window + 1)
                        if 0 <= u < T and start[u] == start[t]]
                return t - start[t] >= skip and (any(bool(beta_all[u, h] > threshold) for u in near)
                                                 or strongest(t, h))
            def dropped(b):  # zero; with straight_through its gradient as if kept
                return b - b.detach() if straight_through else b * 0
            beta_all = torch.stack([torch.stack([beta_all[t, h] if kept(t, h) else dropped(beta_all[t, h])
                                                 for h in range(H)]) for t in range(T)])
    else:
        beta_all = torch.tensor([[0.0 if quiet and quiet[t] else 1.0] * H for t in range(T)], dtype=x.dtype)
    heads_out = []
    M_final, z_final = [], []
    for h in range(H):
        sl = slice(h * D, (h + 1) * D)
        M, z = M0[h].clone(), z0[h].clone()
        out = torch.zeros(T, D, dtype=x.dtype)
        g = torch.sigmoid(layer.gate[h])
        for s0, end, written in spans:
            seg = range(s0, end)
            for t in seg:
                # eq. 6: causal softmax over the segment so far, rotary positions from 0
                qt = rotate(q[t, sl], t - s0, cfg.rope_base)
                scores = torch.stack([qt @ rotate(k[j, sl], j - s0, cfg.rope_base) for j in range(s0, t + 1)])
                w = torch.softmax(scores / math.sqrt(D), 0)
                a_dot = sum(w[j - s0] * v[j, sl] for j in range(s0, t + 1))
                # eq. 7: memory read with the memory as it was before this segment
                sq = sigma(qm[t, sl], cfg.feature_map)
                a_mem = sq @ M
                if cfg.use_z:
                    den = sq @ z
                    a_mem = a_mem / den if den != 0 else a_mem * 0
                out[t] = g * a_mem + (1 - g) * a_dot  # eq. 10
            if not written:
                break  # a partial segment is read, not written
            if next_value:  # key t with the value of token t + 1; the segment's last token writes nothing
                writes = [(j, j + 1) for j in seg if j + 1 < end]
            else:
                writes = [(j, j) for j in seg]
            M, z = naive_write(cfg, M, z, [sigma(km[j, sl], cfg.feature_map) for j, _ in writes],
                               [v[u, sl] for _, u in writes], [beta_all[j, h] for j, _ in writes])
        heads_out.append(out)
        M_final.append(M)
        z_final.append(z)
    y = torch.cat(heads_out, 1) @ layer.proj.weight.T
    return y, torch.stack(M_final), torch.stack(z_final)


def naive_write(cfg, M, z, sks, vs, betas):
    """Eq. 8 / eq. 9 / token-level delta rule for one head and one segment, after the decay."""
    M, z = cfg.memory_decay * M, cfg.memory_decay * z
    if cfg.update == "token_delta":
        for sk, v, b in zip(sks, vs, betas):
            M = M + b * torch.outer(sk, v - sk @ M)
            z = z + b * sk
        return M, z
    M_old, z_old = M, z
    for sk, v, b in zip(sks, vs, betas):
        if cfg.update == "linear":
            M = M + b * torch.outer(sk, v)
        elif cfg.update == "delta":  # every correction uses the memory from before the segment
            retrieved = sk @ M_old
            if cfg.use_z:
                den = sk @ z_old
                retrieved = retrieved / den if den != 0 else retrieved * 0
            M = M + b * torch.outer(sk, v - retrieved)
        else:
            raise ConfigError(f"unknown update rule {cfg.update!r}")
        z = z + b * sk
    return M, z


def naive_forward(model: InfiniTransformer, tokens: torch.Tensor, cuts=()):
    """tokens (B, T) from an empty memory -> logits (B, T, V), per-layer [(M, z)] per batch element.
    Segments are cut every S tokens and at `cuts` (see `segment_spans`)."""
    cfg = model.cfg
    outs, mems = [], []
    for b in range(tokens.shape[0]):
        x = model.emb.weight[tokens[b]]
        quiet = quiet_tokens(cfg, tokens[b].tolist(), cuts) if cfg.quiet_open is not None else None
        layer_mems = []
        for i, block in enumerate(model.blocks):
            H, D = cfg.n_head, cfg.d_head
            zeros_M = torch.zeros(H, D, D, dtype=x.dtype)
            gated = cfg.write_gate_layers is None or i in cfg.write_gate_layers  # from the model's config
            per_layer, floors = cfg.write_threshold_per_layer, cfg.write_floor_per_layer
            threshold = cfg.write_threshold if per_layer is None else per_layer[i]
            floor = cfg.write_floor if floors is None else floors[i]
            gate = (threshold, cfg.write_window, cfg.write_skip, floor) if gated else (0.0, 0, 0, 0)
            a, M, z = naive_attention(block.attn, rms(x, block.norm1), zeros_M, torch.zeros(H, D, dtype=x.dtype),
                                      cuts, gate, block.attn.gate_straight_through, quiet,
                                      next_value=cfg.next_value(i))
            x = x + a
            hmid = rms(x, block.norm2)
            x = x + F.gelu(hmid @ block.mlp.fc1.weight.T) @ block.mlp.fc2.weight.T
            layer_mems.append((M, z))
        outs.append(rms(x, model.norm_f) @ model.emb.weight.T)
        mems.append(layer_mems)
    return torch.stack(outs), mems


def rms(x: torch.Tensor, norm) -> torch.Tensor:
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + norm.eps) * norm.weight
