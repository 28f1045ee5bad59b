"""Infini-attention (Munkhdalai, Faruqui, Gopal 2024, "Leave No Context Behind", arXiv:2404.07143).

One attention layer = causal softmax attention inside a segment (eq. 6) + a read from a
compressive memory that holds every earlier segment (eq. 7), mixed by a learned per-head gate
(eq. 10). After a segment, its keys and values are written to the memory (eq. 8 or 9).

Notation, per batch element and head: Q, K, V are (S, D) for one segment of S tokens;
sigma is the feature map; M (Dk, Dv) and z (Dk) are the memory. The memory math is done in
float32 (float64 when the model itself is float64, for the reference tests), also under
autocast. This is the only module that reads or writes memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from docqa.errors import ConfigError
from docqa.memory import LayerMemory
from docqa.model.config import FEATURE_MAPS, UPDATE_RULES, ModelConfig
from docqa.model.write_gate import by_segment, write_gate


def feature_map(x: torch.Tensor, kind: str, dense: bool = False) -> torch.Tensor:
    """sigma in eq. 7-9. `dense`: the result in a contiguous tensor whatever x's layout (written
    there by the map's last pass, not copied after it, where no gradient is wanted)."""
    if dense and torch.is_grad_enabled() and x.requires_grad:  # out= does not record a gradient
        return feature_map(x, kind).contiguous()
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device) if dense else None
    if kind == "elu1":
        return torch.add(F.elu(x), 1.0, out=out)
    if kind == "l2":  # F.normalize's arithmetic (same bits), without its slower generic norm
        return torch.div(x, torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-12), out=out)
    raise ConfigError(f"feature_map={kind!r}; choose one of {FEATURE_MAPS}")


def memory_read(sq: torch.Tensor, M: torch.Tensor, z: torch.Tensor | None, use_z: bool) -> torch.Tensor:
    """Eq. 7: A_mem = sigma(Q) M / (sigma(Q) z).  sq (..., S, Dk), M (..., Dk, Dv), z (..., Dk)
    (unused, and may be None, without use_z).

    An empty memory (M = 0, z = 0) reads exactly 0: the denominator is replaced by 1 where it
    is 0, and the numerator is 0 there.
    """
    num = sq @ M  # (..., S, Dv)
    if not use_z:
        return num
    den = (sq @ z.unsqueeze(-1))  # (..., S, 1)
    return num / torch.where(den == 0, torch.ones_like(den), den)


def memory_write(cfg: ModelConfig, M: torch.Tensor, z: torch.Tensor, sk: torch.Tensor,
                 v: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Write one segment.  M (B,H,Dk,Dv), z (B,H,Dk), sk (B,H,S,Dk), v (B,H,S,Dv), beta (B,H,S).

    beta is the per-token write strength (all ones when the config has none).
    """
    if cfg.update == "token_delta":  # the same code as a chunk of segments, so the same bits
        Ms, zs = delta_scan(M, z, sk.unsqueeze(1), v.unsqueeze(1), beta.unsqueeze(1), cfg.memory_decay)
        return Ms[-1], zs[-1]
    if cfg.memory_decay != 1.0:  # M <- alpha M before the write (memory_decay in config.py)
        M, z = cfg.memory_decay * M, cfg.memory_decay * z
    skb = sk * beta.unsqueeze(-1)  # (B,H,S,Dk)
    z_new = z + skb.sum(-2)
    if cfg.update == "linear":  # eq. 8: M + sigma(K)^T V
        return M + skb.transpose(-1, -2) @ v, z_new
    if cfg.update == "delta":  # eq. 9: M + sigma(K)^T (V - sigma(K) M / sigma(K) z)
        return M + skb.transpose(-1, -2) @ (v - memory_read(sk, M, z, cfg.use_z)), z_new
    # the config checks on construction; a later assignment does not
    raise ConfigError(f"update={cfg.update!r}; choose one of {UPDATE_RULES}")


# The token-level delta rule ("token_delta"), DeltaNet's rule applied token by token inside a
# segment, computed a chunk of segments at a time after the UT/WY form of flash-linear-attention
# (fla/ops/delta_rule: prepare_wy_repr, chunk_delta_h). Per head, with k_t (Dk) and v_t (Dv)
# the t-th rows of sigma(K) and V of one segment of S tokens:
#
#   M_t = M_{t-1} + beta_t k_t (v_t - k_t^T M_{t-1})^T,   t = 1..S.
#
# Name the t-th correction u_t = beta_t (v_t - k_t^T M_{t-1}) (a row of U, (S, Dv)). Then
# M_t = M_0 + sum_{i<=t} k_i u_i^T, so k_t^T M_{t-1} = k_t^T M_0 + sum_{i<t} (k_t . k_i) u_i^T and
#
#   u_t + beta_t sum_{i<t} (k_t . k_i) u_i = beta_t (v_t - k_t^T M_0),
#
# the rows of the unit lower-triangular system A U = diag(beta) (V - K M_0) with
# A = I + diag(beta) tril(K K^T, -1). With T = A^-1 diag(beta) (S, S), the UT transform:
#
#   U = T V - (T K) M_0 = W_v - W_k M_0,      M_S = M_0 + K^T U.
#
# W_k = T K and W_v = T V depend on the segment alone (K, V, beta), not on the memory coming in.
# fla stops here (it needs U itself for the outputs inside a chunk). Infini-attention reads the
# memory only at segment boundaries (eq. 7, the memory before the segment), so U is never
# needed, only the segment's whole effect on the memory, an affine map:
#
#   M_S = P M_0 + Q,    P = I - K^T T K (Dk, Dk),    Q = K^T T V (Dk, Dv).
#
# `delta_transition` computes P and Q for every segment of a chunk at once; `delta_scan` is
# all that stays sequential: one (Dk, Dk) x (Dk, Dv) matmul per segment. K^T T is found without
# forming T, from one triangular solve with the unknown on the left:
#
#   X A = K^T  =>  X = K^T A^-1 (Dk, S),   K^T T = X diag(beta),
#   G = K^T T K = (X diag(beta)) K,   Q = K^T T V = (X diag(beta)) V.
#
# (one product with [K | V] would need a copy of both to join them)
#
# Why this way round: the solve for X (`left=False`) runs ~3x faster here (MKL, one CPU thread)
# than the same solve written as A^T Y = K (Y = X^T), which the code did before.
#
# Exactness: every step is per segment and per (batch, head) matrix (batched solves and matmuls
# give each matrix the bits it gets alone), so the memory path's float32 bits do not depend on
# how a stream is cut into calls or chunks, nor on what else is in the batch, as before this
# form; tests/model/test_infini.py checks that bit for bit, and the float64 result against the
# token-by-token loop (outputs and gradients). Against the earlier one-solve-per-segment form
# (a solve of A U = diag(beta)(V - K M_0) in each step) the float32 results differ by rounding
# only (~1e-6 relative on the shipped model).


class Transition(NamedTuple):
    """A segment's token_delta write as an affine map of the memory: M -> P M + Q, z -> z + dz."""

    P: torch.Tensor  # (..., Dk, Dk)  I - sigma(K)^T T sigma(K)
    Q: torch.Tensor  # (..., Dk, Dv)  sigma(K)^T T V
    dz: torch.Tensor  # (..., Dk)     sum_t beta_t sigma(k_t)


def delta_transition(sk: torch.Tensor, v: torch.Tensor, beta: torch.Tensor) -> Transition:
    """P, Q (and dz) of the segment map above, for any leading dims (one or many segments).

    sk (..., S, Dk), v (..., S, Dv), beta (..., S). The solve reads only the strict lower
    triangle of A (unitriangular: the diagonal is taken as 1), so A is passed as
    diag(beta) K K^T without masking; the solve's backward puts gradient on that triangle only.
    """
    Dk = sk.shape[-1]
    bk = beta.unsqueeze(-1) * sk  # diag(beta) sigma(K)  (..., S, Dk)
    A = bk @ sk.transpose(-1, -2)  # diag(beta) K K^T  (..., S, S); only tril(., -1) is read
    X = torch.linalg.solve_triangular(A, sk.transpose(-1, -2), upper=False, left=False,
                                      unitriangular=True)  # K^T A^-1  (..., Dk, S)
    KtT = X * beta.unsqueeze(-2)  # K^T T = X diag(beta)  (..., Dk, S)
    eye = torch.eye(Dk, dtype=sk.dtype, device=sk.device)
    return Transition(eye - KtT @ sk, KtT @ v, bk.sum(-2))


def delta_scan(M: torch.Tensor, z: torch.Tensor, sk: torch.Tensor, v: torch.Tensor,
               beta: torch.Tensor, decay: float = 1.0) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """token_delta writes of N segments in order.  M (B,H,Dk,Dv), z (B,H,Dk), sk (B,N,H,S,Dk),
    v (B,N,H,S,Dv), beta (B,N,H,S) -> the N+1 memories [M_0 .. M_N] and [z_0 .. z_N] (M_n before
    segment n, M_N after the last). With decay alpha < 1 each segment starts from alpha M_n:
    M_{n+1} = P_n (alpha M_n) + Q_n, since the transition is linear in the memory it starts from."""
    B, N, H, S, Dk = sk.shape
    Dv = v.shape[-1]
    # Contiguous first: q, k, v arrive as strided views of the projection, and MKL's batched
    # products of strided matrices gave a segment other bits in a batch of another size (a
    # stream cut elsewhere); of contiguous ones, the same bits (tests/model/test_infini.py).
    sk, v, beta = sk.contiguous(), v.contiguous(), beta.contiguous()
    tr = delta_transition(sk, v, beta)  # (B, N, H, ...): every segment at once
    # per segment, (batch, head) flattened so that each step is one batched matmul (a view for one
    # stream; a batch of several is copied once here, not at every step)
    Ps = tr.P.transpose(0, 1).reshape(N, B * H, Dk, Dk).unbind(0)
    Qs = tr.Q.transpose(0, 1).reshape(N, B * H, Dk, Dv).unbind(0)
    flat = [M.reshape(B * H, Dk, Dv)]
    for P_n, Q_n in zip(Ps, Qs):
        # P M + Q; alpha = 1 multiplies nothing, so undecayed models keep their bits
        flat.append(torch.baddbmm(Q_n, P_n, flat[-1] if decay == 1.0 else decay * flat[-1]))
    zs = [z]
    for dz_n in tr.dz.unbind(1):
        # (a cumsum would add in another order: other bits for other cuts)
        zs.append((zs[-1] if decay == 1.0 else decay * zs[-1]) + dz_n)
    return [M] + [m.view(B, H, Dk, Dv) for m in flat[1:]], zs


def memory_dtype(x: torch.Tensor) -> torch.dtype:
    """The memory's arithmetic: float32, or float64 for a float64 model (the reference tests)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def memory_scan(cfg, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor,
                mem: LayerMemory, n_full: int) -> tuple[torch.Tensor, LayerMemory]:
    """Eq. 7-9 over N segments in order: segment n reads the memory of the segments before it,
    then the first `n_full` segments are written. Float32 (see memory_dtype), also under autocast.

    q (B, N, H, Sq, Dk), k (B, N, H, S, Dk), v (B, N, H, S, Dv), beta (B, N, H, S), before the
    feature map; mem (B, H, Dk, Dv). Sq may differ from S: a grouped-query model lays the queries
    of a group side by side. `cfg` gives feature_map, update and use_z (a ModelConfig or the
    memory config of a converted model). Returns A_mem (B, N, H, Sq, Dv) and the memory after.
    """
    dt = memory_dtype(q)
    with torch.autocast(device_type=q.device.type, enabled=False):
        # q and k are strided views of the projection; the batched products want contiguous
        # matrices (see delta_scan), which the feature map's last pass writes
        sq = feature_map(q.to(dt), cfg.feature_map, dense=True)
        sk = feature_map(k.to(dt), cfg.feature_map, dense=True)
        vv, bb = v.to(dt), beta.to(dt)
        M, z = mem.M.to(dt), mem.z.to(dt)
        if cfg.update == "token_delta":  # a chunk of segments at once: see delta_transition
            Ms, zs = delta_scan(M, z, sk[:, :n_full], vv[:, :n_full], bb[:, :n_full], cfg.memory_decay)
        else:
            Ms, zs = [M], [z]
            for n in range(n_full):
                M, z = memory_write(cfg, M, z, sk[:, n], vv[:, n], bb[:, n])
                Ms.append(M)
                zs.append(z)
        # Ms = [M_0 .. M_n_full]; read before write: segment n reads M_n, the segments before it
        N = q.shape[1]
        z_read = torch.stack(zs[:N], 1) if cfg.use_z else None  # without z (l2 features) it is never read
        a_mem = memory_read(sq, torch.stack(Ms[:N], 1), z_read, cfg.use_z)
    return a_mem, LayerMemory(Ms[-1], zs[-1])


def memory_lookup(cfg, q: torch.Tensor, mem: LayerMemory) -> torch.Tensor:
    """Eq. 7 alone, for cached decoding: q (B, H, Sq, Dk) -> A_mem (B, H, Sq, Dv); nothing written."""
    dt = memory_dtype(q)
    with torch.autocast(device_type=q.device.type, enabled=False):
        return memory_read(feature_map(q.to(dt), cfg.feature_map), mem.M.to(dt), mem.z.to(dt), cfg.use_z)


def memory_commit(cfg, k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, mem: LayerMemory) -> LayerMemory:
    """Eq. 8/9 for one complete segment: k (B, H, S, Dk), v (B, H, S, Dv), beta (B, H, S)."""
    dt = memory_dtype(k)
    with torch.autocast(device_type=k.device.type, enabled=False):
        M, z = memory_write(cfg, mem.M.to(dt), mem.z.to(dt), feature_map(k.to(dt), cfg.feature_map),
                            v.to(dt), beta.to(dt))
    return LayerMemory(M, z)


def next_values(v: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What a next-value layer writes (ModelConfig.next_value_layers): at position t the next token's
    value v_{t+1} with t's own strength, and nothing at a segment's last position, whose next token
    is in the next segment.  v (..., S, Dv), beta (..., S), one segment along S."""
    return torch.cat([v[..., 1:, :], torch.zeros_like(v[..., :1, :])], -2), next_value_strengths(beta)


def next_value_strengths(beta: torch.Tensor) -> torch.Tensor:
    """The write strengths (..., S) of a next-value layer: beta, none at a segment's last position."""
    return torch.cat([beta[..., :-1], torch.zeros_like(beta[..., :1])], -1)


def gate_mix(gate: torch.Tensor, a_dot: torch.Tensor, a_mem: torch.Tensor) -> torch.Tensor:
    """Eq. 10: sigmoid(gate) A_mem + (1 - sigmoid(gate)) A_dot.  gate (H,), a_dot and a_mem (..., H, T, D)."""
    g = torch.sigmoid(gate).view(-1, 1, 1).to(a_dot.dtype)  # (H, 1, 1)
    return torch.lerp(a_dot, a_mem.to(a_dot.dtype), g)  # a_dot + g (a_mem - a_dot), one pass


def rope(x: torch.Tensor, pos: torch.Tensor, base: float) -> torch.Tensor:
    """Rotary positions (rotate-half form).  x (..., T, D), pos (T,) positions inside the segment."""
    d = x.shape[-1]
    inv_freq = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)  # (D/2,)
    ang = pos.to(torch.float32)[:, None] * inv_freq[None, :]  # (T, D/2)
    cos = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype)  # (T, D)
    sin = torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


@dataclass
class SegmentCache:
    """Keys and values of the current, unfinished segment, for cached decoding (one layer)."""

    raw: list[torch.Tensor] = field(default_factory=list)  # each (B,t,3C): q,k,v before the short conv
    k_rot: list[torch.Tensor] = field(default_factory=list)  # each (B,H,t,D), rotated, for eq. 6
    k: list[torch.Tensor] = field(default_factory=list)  # each (B,H,t,D): the memory's keys, for the write
    v: list[torch.Tensor] = field(default_factory=list)
    beta: list[torch.Tensor] = field(default_factory=list)  # each (B,H,t)

    def __len__(self) -> int:
        return sum(t.shape[-2] for t in self.k)


CENTER_MOMENTUM = 0.01  # memory_center: how far one training forward moves the stored centres
WHITEN_EPS = 1e-2  # memory_whiten: eps of W = (Sigma + eps I)^-1/2, relative to Sigma's mean eigenvalue


def whitening(cov: torch.Tensor) -> torch.Tensor:
    """W = (Sigma + eps I)^-1/2 for covariances cov (..., D, D), symmetric, in float64: the same
    bits for the same statistics, whichever call asks (streaming and cached decoding agree)."""
    lam, V = torch.linalg.eigh(cov.double())
    eps = WHITEN_EPS * lam.mean(-1, keepdim=True).clamp_min(1e-12)
    return (V * (lam.clamp_min(0.0) + eps).rsqrt().unsqueeze(-2)) @ V.transpose(-1, -2)


def call_inputs(args: tuple) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(x, quiet) of a call InfiniAttention.forward(x, mem, use_memory, quiet), from a forward
    pre-hook's positional args: what a diagnostic needs to recompute the layer's writes. Block.forward
    passes all four; a direct call without `quiet` has none."""
    return args[0], args[3] if len(args) > 3 else None


class InfiniAttention(nn.Module):
    def __init__(self, cfg: ModelConfig, next_value: bool = False):
        super().__init__()
        self.cfg = cfg
        self.next_value = next_value  # writes k_t -> v_{t+1}: ModelConfig.next_value_layers names this layer
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.gate = nn.Parameter(torch.full((cfg.n_head,), cfg.gate_init))  # beta of eq. 10
        self.write_strength = nn.Linear(cfg.d_model, cfg.n_head) if cfg.write_strength else None
        # write_gate's straight_through: set by training (TrainConfig.gate_straight_through), never saved
        self.gate_straight_through = False
        if cfg.short_conv:
            identity = torch.zeros(3 * cfg.d_model, cfg.short_conv)
            identity[:, -1] = 1.0
            self.conv = nn.Parameter(identity)  # (3C, K): taps for positions t-K+1 .. t
        # (2C, C), zero: the memory's own correction to q and k (ModelConfig.memory_qk)
        self.mem_qk = nn.Linear(cfg.d_model, 2 * cfg.d_model, bias=False) if cfg.memory_qk else None
        if self.mem_qk is not None:
            nn.init.zeros_(self.mem_qk.weight)
        # (2, H, D): c_q and c_k, subtracted from the memory's queries and keys (ModelConfig.memory_center);
        # a statistic, as batch norm's running mean, not a parameter: a learned centre stayed put
        # while training rebuilt the shared direction around it (docs/TRAINING.md, sixth session)
        if cfg.memory_center:
            self.register_buffer("mem_center", torch.zeros(2, cfg.n_head, cfg.d_head))
        else:
            self.mem_center = None
        # (2, H, D, D): the covariances of the centred q and k (ModelConfig.memory_whiten); the
        # identity at init, whose W is a multiple of I, which the l2 feature map cancels
        if cfg.memory_whiten:
            self.register_buffer("mem_cov", torch.eye(cfg.d_head).expand(2, cfg.n_head, -1, -1).clone())
        else:
            self.mem_cov = None

    def _conv(self, u: torch.Tensor, prev: torch.Tensor | None) -> torch.Tensor:
        """Causal depthwise conv along T of u (..., T, 3C); `prev` (..., K-1, 3C) holds the
        segment's earlier inputs (zeros at the segment start: nothing crosses a segment)."""
        K = self.cfg.short_conv
        if prev is None:
            prev = u.new_zeros(*u.shape[:-2], K - 1, u.shape[-1])
        padded = torch.cat([prev, u], -2)  # (..., K-1+T, 3C)
        T = u.shape[-2]
        return sum(self.conv[:, j] * padded[..., j:j + T, :] for j in range(K))

    def _project(self, x: torch.Tensor, prev: torch.Tensor | None = None, qkv: torch.Tensor | None = None):
        """x (..., T, C) -> q, k, v (..., H, T, D) and the write strength (..., H, T)."""
        H, D = self.cfg.n_head, self.cfg.d_head
        qkv = self.qkv(x) if qkv is None else qkv
        if self.cfg.short_conv:
            qkv = self._conv(qkv, prev)
        q, k, v = (t.unflatten(-1, (H, D)).transpose(-2, -3)  # (..., H, T, D)
                   for t in qkv.split(self.cfg.d_model, dim=-1))
        if self.write_strength is None:
            beta = torch.ones(q.shape[:-1], dtype=q.dtype, device=q.device)
        else:
            beta = torch.sigmoid(self.write_strength(x)).transpose(-1, -2)  # (..., H, T), before write_gate
        return q, k, v, beta

    def _memory_qk(self, x: torch.Tensor, q: torch.Tensor, k: torch.Tensor, batch_stats: bool = False,
                   raw: bool = False):
        """The queries and keys of eq. 7-9: local attention's q, k (..., H, T, D), plus the
        memory's own correction from x (..., T, C) with memory_qk, less the centres with memory_center.

        `batch_stats` (forward() in training mode): centre by this call's own means, with their
        gradient, so no shared direction can pay off in training, and move the stored centres
        towards them (CENTER_MOMENTUM), as batch norm does; otherwise by the stored centres. The
        same for the whitening with memory_whiten. `raw`: neither (what the statistics are of)."""
        if self.mem_qk is not None:
            H, D = self.cfg.n_head, self.cfg.d_head
            dq, dk = (t.unflatten(-1, (H, D)).transpose(-2, -3) for t in self.mem_qk(x).split(self.cfg.d_model, -1))
            q, k = q + dq, k + dk
        if self.mem_center is None or raw:
            return q, k
        if batch_stats:  # means over every token of the call, per head: (2, H, D)
            c = torch.stack([t.movedim(-3, 0).flatten(1, -2).mean(1) for t in (q, k)])
            with torch.no_grad():
                self.mem_center.lerp_(c.to(self.mem_center.dtype), CENTER_MOMENTUM)
        else:
            c = self.mem_center.to(q.dtype)
        c = c.unsqueeze(-2)  # (2, H, 1, D)
        q, k = q - c[0], k - c[1]
        if self.mem_cov is None:
            return q, k
        if batch_stats:  # this call's covariances (no gradient through W: it is a statistic)
            with torch.no_grad():
                flat = [t.detach().movedim(-3, 0).flatten(1, -2).double() for t in (q, k)]  # (H, n, D)
                cov = torch.stack([f.transpose(-1, -2) @ f / f.shape[1] for f in flat])  # (2, H, D, D)
                self.mem_cov.lerp_(cov.to(self.mem_cov.dtype), CENTER_MOMENTUM)
        else:
            cov = self.mem_cov
        W = whitening(cov).to(q.dtype)  # (2, H, D, D), symmetric
        return q @ W[0], k @ W[1]

    def projections(self, x: torch.Tensor, raw: bool = False, quiet: torch.Tensor | None = None,
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The memory's queries and keys (B, H, T, D), before the feature map, and write strengths
        (B, H, T) of this layer for input x (B, T, C) that starts at a segment boundary: what a diagnostic
        needs to see which stored facts a read addresses and which tokens a fact competes with.
        `raw`: before memory_center's centring and whitening (docqa/model/center.py fits those).
        `quiet` (B, T): the stream's quiet_mask, for the write strengths forward() writes with."""
        B, T, C = x.shape
        S = self.cfg.segment_len
        n_seg = -(-T // S)
        x = F.pad(x, (0, 0, 0, n_seg * S - T)).view(B, n_seg, S, C)  # as forward() sees it
        q, k, _, beta = self._project(x)  # (B, N, H, S, D), (B, N, H, S)
        real = torch.arange(n_seg * S, device=x.device).view(n_seg, 1, S) < T  # (N, 1, S)
        beta = write_gate(self.cfg, beta * real, quiet=by_segment(quiet, n_seg, S))  # padding keeps no neighbour
        if self.next_value:  # the strength t writes v_{t+1} with
            beta = next_value_strengths(beta)
        q, k = self._memory_qk(x, q, k, raw=raw)  # the memory's
        q, k = (t.transpose(1, 2).flatten(2, 3)[:, :, :T] for t in (q, k))
        return q, k, beta.transpose(1, 2).flatten(2, 3)[:, :, :T]

    def writes(self, x: torch.Tensor, quiet: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys (B, H, T, Dk), before the feature map, and write strengths (B, H, T) this layer
        writes into the memory for input x (B, T, C) that starts at a segment boundary (and its
        quiet_mask (B, T), as Block.forward passes it)."""
        _, k, beta = self.projections(x, quiet=quiet)
        return k, beta

    def segment_writes(self, x: torch.Tensor, quiet: torch.Tensor | None = None,
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What forward() writes for input x (B, N*S, C) of whole segments (and their quiet_mask
        (B, N*S)): the memory's keys before the feature map and the values (B, N, H, S, D), and the
        gated write strengths (B, N, H, S). (Training's batch statistics for memory_center are not
        applied: the stored centres are.)"""
        B, T, C = x.shape
        N, S = T // self.cfg.segment_len, self.cfg.segment_len
        x = x.view(B, N, S, C)
        q, k, v, beta = self._project(x)
        _, k = self._memory_qk(x, q, k)
        beta = write_gate(self.cfg, beta, self.gate_straight_through, by_segment(quiet, N, S))
        return (k, *next_values(v, beta)) if self.next_value else (k, v, beta)

    def _mix(self, a_dot: torch.Tensor, a_mem: torch.Tensor | None) -> torch.Tensor:
        """Eq. 10: A = sigmoid(gate) A_mem + (1 - sigmoid(gate)) A_dot, then the output projection."""
        if a_mem is not None:
            a_dot = gate_mix(self.gate, a_dot, a_mem)
        return self.proj(a_dot.transpose(-2, -3).flatten(-2))  # (..., T, C)

    def forward(self, x: torch.Tensor, mem: LayerMemory, use_memory: bool = True, quiet: torch.Tensor | None = None):
        """x (B, T, C) starting at a segment boundary -> (y (B, T, C), memory after the last full segment).
        `quiet` (B, T): the tokens' quiet_mask (InfiniTransformer.hidden computes it), or None.

        All segments are processed at once for the local attention; the memory is carried
        through them in order, so gradients flow from every segment into the writes before it.
        A trailing partial segment is read but not written.
        """
        cfg = self.cfg
        B, T, C = x.shape
        S = cfg.segment_len
        n_seg, n_full = -(-T // S), T // S
        x = F.pad(x, (0, 0, 0, n_seg * S - T)).view(B, n_seg, S, C)
        q, k, v, beta = self._project(x)  # (B, N, H, S, D), beta (B, N, H, S)
        # per segment: the padded tail of a partial one is never written
        beta = write_gate(cfg, beta, self.gate_straight_through, by_segment(quiet, n_seg, S))
        pos = torch.arange(S, device=x.device)  # positions restart at 0 in every segment
        a_dot = F.scaled_dot_product_attention(  # eq. 6, causal within each segment
            rope(q, pos, cfg.rope_base), rope(k, pos, cfg.rope_base), v, is_causal=True)
        a_mem = None
        if use_memory:
            mq, mk = self._memory_qk(x, q, k, batch_stats=self.training)
            wv, wbeta = next_values(v, beta) if self.next_value else (v, beta)  # what is written
            a_mem, mem = memory_scan(cfg, mq, mk, wv, wbeta, mem, n_full)  # (B,N,H,S,D)
        y = self._mix(a_dot, a_mem)  # (B, N, S, C)
        return y.reshape(B, n_seg * S, C)[:, :T], mem

    def step(self, x: torch.Tensor, cache: SegmentCache, mem: LayerMemory, use_memory: bool = True):
        """Cached decoding: x (B, t, C) are the next t tokens of the current segment (which must
        still have room for them). Appends to the cache; the memory is read, never written."""
        cfg = self.cfg
        P, t = len(cache), x.shape[1]
        assert P + t <= cfg.segment_len, "step() crosses a segment boundary; commit() first"
        qkv, prev = self.qkv(x), None
        if cfg.short_conv:  # the conv's left context: this segment's last K-1 inputs, zeros before it
            earlier = torch.cat([qkv[:, :0], *cache.raw], -2)
            prev = F.pad(earlier, (0, 0, cfg.short_conv - 1, 0))[:, earlier.shape[1]:]
            cache.raw.append(qkv)
        q, k, v, beta = self._project(x, prev, qkv)  # (B, H, t, D)
        pos = torch.arange(P, P + t, device=x.device)
        k_rot = rope(k, pos, cfg.rope_base)
        mq, mk = self._memory_qk(x, q, k)
        cache.k_rot.append(k_rot)
        cache.k.append(mk)
        cache.v.append(v)
        cache.beta.append(beta)
        keys, values = torch.cat(cache.k_rot, -2), torch.cat(cache.v, -2)  # (B, H, P+t, D)
        allowed = torch.ones(t, P + t, dtype=torch.bool, device=x.device).tril(diagonal=P)
        a_dot = F.scaled_dot_product_attention(rope(q, pos, cfg.rope_base), keys, values, attn_mask=allowed)
        a_mem = memory_lookup(cfg, mq, mem) if use_memory else None
        return self._mix(a_dot, a_mem)

    def commit(self, cache: SegmentCache, mem: LayerMemory, quiet: torch.Tensor | None = None) -> LayerMemory:
        """Write the cached (complete) segment to memory, exactly as forward() would; `quiet` (B, L):
        the segment's quiet_mask."""
        beta = write_gate(self.cfg, torch.cat(cache.beta, -1), quiet=quiet)  # the segment is whole only now
        v = torch.cat(cache.v, -2)
        if self.next_value:
            v, beta = next_values(v, beta)
        return memory_commit(self.cfg, torch.cat(cache.k, -2), v, beta, mem)


# Parameters (and memory_center's statistics) InfiniAttention initialises itself so that they change
# nothing (the short conv as the identity, memory_qk's correction and the centres at zero):
# init_weights leaves them, and a trained model may gain them through `model_overrides`
# (docqa/train/loop.py, which fits new centres to its text).
OWN_INIT = ("attn.conv", "attn.mem_qk.weight", "attn.mem_center", "attn.mem_cov")


def init_weights(module: nn.Module, n_layer: int) -> None:
    """GPT-2 style init; output projections scaled by depth so the residual stream stays O(1)."""
    for name, p in module.named_parameters():
        if p.dim() == 2 and "emb" not in name and not name.endswith(OWN_INIT):
            std = 0.02 / math.sqrt(2 * n_layer) if name.endswith(("proj.weight", "fc2.weight")) else 0.02
            nn.init.normal_(p, 0.0, std)
