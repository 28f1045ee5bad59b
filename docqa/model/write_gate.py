"""Which tokens write to the compressive memory: the write gate of ModelConfig (write_threshold,
write_threshold_per_layer via layer_config, write_window, write_skip, write_floor) and quiet spans
(quiet_open, quiet_close).

The write strength beta of eq. 8-9 (the delta rule's per-token step) is computed by
docqa.model.infini; this module only zeroes some of them, segment by segment, before the memory is
written there. Decoding gates at commit, when the segment is whole, so every rule here may look at
the whole segment but never across a segment boundary: streaming in any split writes the same memory.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from docqa.model.config import ModelConfig


def quiet_mask(cfg: ModelConfig, tokens: torch.Tensor) -> torch.Tensor | None:
    """ModelConfig.quiet_open / quiet_close: tokens (..., T) from a segment boundary -> (..., T) bool,
    True where a token writes nothing: from an opening token through the first closing token at
    or after it, each span ending with its segment of cfg.segment_len tokens at the latest. None
    for a model without quiet spans."""
    if cfg.quiet_open is None:
        return None
    S, T = cfg.segment_len, tokens.shape[-1]
    n_seg = -(-T // S)
    seg = F.pad(tokens, (0, n_seg * S - T)).unflatten(-1, (n_seg, S))  # (..., N, S); padding is never read
    pos = torch.arange(S, device=tokens.device)
    never = torch.full_like(seg, -1)

    def last(ids: list[int]) -> torch.Tensor:  # the position of the last such token at or before each, or -1
        hit = torch.isin(seg, torch.tensor(ids, device=tokens.device))
        return torch.where(hit, pos, never).cummax(-1).values

    opened, closed = last(cfg.quiet_open), last(cfg.quiet_close)
    closed_before = torch.cat([never[..., :1], closed[..., :-1]], -1)  # the last close strictly before each
    return ((opened >= 0) & (closed_before < opened)).flatten(-2)[..., :T]


def write_gate(cfg: ModelConfig, beta: torch.Tensor, straight_through: bool = False,
               quiet: torch.Tensor | None = None) -> torch.Tensor:
    """ModelConfig.write_threshold, write_window, write_skip and write_floor: beta (..., S), one
    segment along the last dim from its first position, with the writes dropped that are at or below
    the threshold and have no token above it within write_window positions (either side, inside the
    segment), and every write at the segment's first write_skip positions; then each row's
    write_floor strongest writes after write_skip are kept whatever the threshold (a kept floor write
    keeps no neighbour). Gradient flows through the kept ones.

    The window is why the gate needs the whole segment: a write is committed only at the
    segment's end, so a token may be kept for a strong one after it (decoding gates at commit).

    `straight_through` (training only; InfiniAttention.gate_straight_through): a dropped write
    still gets the gradient a write of zero strength would get, as if it had been kept. Without it
    a write under the threshold learns nothing from the answer, only the write penalty's push
    down, and a fact written just under the threshold sinks and stays (docs/TRAINING.md,
    fourteenth session: a22). The values are the same either way.

    `quiet` (..., S), beta's shape without its head dim (quiet_mask): those tokens write nothing in
    any layer, and no gradient reaches their beta; they are dropped before the threshold, so a
    quiet token never keeps a neighbour through the window."""
    if quiet is not None:
        beta = beta * ~quiet.unsqueeze(-2)
    if not cfg.write_threshold:
        return beta
    keep = beta > cfg.write_threshold
    if cfg.write_window:  # dilate the mask: a max over the window, per row of the segment
        w = cfg.write_window
        flat = keep.to(beta.dtype).reshape(-1, 1, beta.shape[-1])
        keep = F.max_pool1d(flat, 2 * w + 1, stride=1, padding=w).reshape(beta.shape) > 0
    after_skip = torch.arange(beta.shape[-1], device=beta.device) >= cfg.write_skip
    if cfg.write_skip:  # after the window: a strong neighbour does not bring a context-free write back
        keep = keep & after_skip
    if cfg.write_floor:  # the row's strongest writes past the skip; a zero write kept is still none
        n = min(cfg.write_floor, beta.shape[-1] - cfg.write_skip)  # from the shape: no device sync
        top = beta.detach().masked_fill(~after_skip, -1.0).topk(n, -1).indices
        keep = keep | torch.zeros_like(keep).scatter(-1, top, True)
    if straight_through:  # forward beta * keep; backward d/dbeta = 1 at every token
        return beta * keep + (beta - beta.detach()) * ~keep
    return beta * keep


def by_segment(quiet: torch.Tensor | None, n_seg: int, S: int) -> torch.Tensor | None:
    """A quiet_mask (B, T) laid out as forward() lays out its segments, (B, N, S); padding is not quiet
    (it writes nothing anyway)."""
    if quiet is None:
        return None
    return F.pad(quiet, (0, n_seg * S - quiet.shape[-1])).view(quiet.shape[0], n_seg, S)
