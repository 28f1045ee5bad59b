"""Would carrying the short conv across segments help? Any `docqa` command, run with the conv carried.

    python benchmarks/probe_conv_carry.py bench sources --model DIR --n-docs 100 --trials 20 --json

The short conv (ModelConfig.short_conv) starts over at every segment: a segment's first K-1 tokens
see zeros where the text before them was (infini.InfiniAttention._conv). This probe patches the
conv so that inside each call of the model on several segments, a segment's conv reads the last
K-1 inputs of the one before it; the first segment of a call (every 16th during ingest, and the
question's) still starts over, so the probe is an upper bound's approximation, not a feature. The
weights are unchanged and were trained with the restart. Numbers measured with it are in
docs/TRAINING.md (twenty-fifth session).
"""

from __future__ import annotations

import torch

from docqa.model import infini

_conv = infini.InfiniAttention._conv


def carried_conv(self, u: torch.Tensor, prev: torch.Tensor | None) -> torch.Tensor:
    """u (B, N, S, 3C), N segments of one call: segment n's left context is segment n-1's last K-1
    inputs (zeros for the first)."""
    if prev is None and u.dim() == 4 and u.shape[1] > 1 and self.cfg.short_conv > 1:
        K = self.cfg.short_conv
        prev = torch.cat([u.new_zeros(u.shape[0], 1, K - 1, u.shape[-1]), u[:, :-1, -(K - 1):]], 1)
    return _conv(self, u, prev)


if __name__ == "__main__":
    infini.InfiniAttention._conv = carried_conv
    from docqa.cli.main import cli

    cli()
