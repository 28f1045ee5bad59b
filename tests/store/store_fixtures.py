"""Shared by the store tests and the subprocesses they start (a name unique across tests/)."""

import torch

from docqa.memory import Memory

FP_A = "a" * 64
FP_B = "b" * 64


def random_memory(seed: int, n_layer: int = 3, n_head: int = 2, d_key: int = 5, d_value: int = 7,
                  batch: int = 1, pending: int = 3) -> Memory:
    """Awkward sizes, fixed seed; the same seed gives the same memory in any process."""
    g = torch.Generator().manual_seed(seed)
    m = Memory.zeros(n_layer, n_head, d_key, d_value, batch=batch)
    for layer in m.layers:
        layer.M.copy_(torch.randn(layer.M.shape, generator=g))
        layer.z.copy_(torch.rand(layer.z.shape, generator=g))
    m.pending = torch.randint(0, 50_000, (batch, pending), generator=g)
    m.segments = seed
    return m
