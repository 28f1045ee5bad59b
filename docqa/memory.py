"""The compressive memory state of a whole model: one (M, z) per layer, plus the stream's tail.

A `Memory` is what a corpus snapshot is. It is a plain structure: copy it, move it, turn it
into bytes (safetensors, one blob per layer) and back. The math that reads and writes it lives
in `docqa.model.infini`; this module only holds and serialises the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from docqa.errors import CorruptSnapshot


@dataclass
class LayerMemory:
    M: torch.Tensor  # (B, H, Dk, Dv) float32: associative matrix
    z: torch.Tensor  # (B, H, Dk) float32: normaliser (sum of feature-mapped keys)


@dataclass
class Memory:
    """Per-layer memory for a batch of B streams.

    `pending` holds the stream's unfinished segment: tokens seen but not yet written to memory
    (fewer than segment_len). Keeping them makes `ingest` give identical results however the
    stream is chunked; when answering, they open the next segment, ahead of the question.
    `segments` counts the segments written so far.
    """

    layers: list[LayerMemory]
    pending: torch.Tensor = field(default_factory=lambda: torch.zeros(1, 0, dtype=torch.long))  # (B, P)
    segments: int = 0

    @classmethod
    def zeros(cls, n_layer: int, n_head: int, d_key: int, d_value: int, batch: int = 1,
              device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Memory:
        layers = [
            LayerMemory(
                M=torch.zeros(batch, n_head, d_key, d_value, dtype=dtype, device=device),
                z=torch.zeros(batch, n_head, d_key, dtype=dtype, device=device),
            )
            for _ in range(n_layer)
        ]
        pending = torch.zeros(batch, 0, dtype=torch.long, device=device)
        return cls(layers=layers, pending=pending, segments=0)

    @property
    def batch(self) -> int:
        return self.layers[0].M.shape[0]

    def clone(self) -> Memory:
        return Memory(
            layers=[LayerMemory(l.M.clone(), l.z.clone()) for l in self.layers],
            pending=self.pending.clone(),
            segments=self.segments,
        )

    def detach(self) -> Memory:
        return Memory(
            layers=[LayerMemory(l.M.detach(), l.z.detach()) for l in self.layers],
            pending=self.pending,
            segments=self.segments,
        )

    def select(self, i: int) -> Memory:
        """Batch element i as a memory of batch 1 (a copy)."""
        return Memory(
            layers=[LayerMemory(l.M[i:i + 1].clone(), l.z[i:i + 1].clone()) for l in self.layers],
            pending=self.pending[i:i + 1].clone(),
            segments=self.segments,
        )

    def knocked_out(self, layer: int | None) -> Memory:
        """A copy with `layer`'s M and z zeroed (None: a plain copy): what an answer reads without that
        layer's memory, the per-layer control of the recall probes."""
        out = self.clone()
        if layer is not None:
            out.layers[layer].M.zero_()
            out.layers[layer].z.zero_()
        return out

    def zero_(self) -> Memory:
        """Knock the memory out in place (the control in recall benchmarks)."""
        for l in self.layers:
            l.M.zero_()
            l.z.zero_()
        return self

    def equal(self, other: Memory) -> bool:
        """Bit-exact equality of every tensor and counter."""
        return (
            len(self.layers) == len(other.layers)
            and self.segments == other.segments
            and torch.equal(self.pending.cpu(), other.pending.cpu())
            and all(torch.equal(a.M.cpu(), b.M.cpu()) and torch.equal(a.z.cpu(), b.z.cpu())
                    for a, b in zip(self.layers, other.layers))
        )

    # Serialisation: one safetensors blob per layer (the store keeps one row per layer),
    # the pending tokens and the segment counter travel beside them.

    def layer_blobs(self) -> list[bytes]:
        return [st_save({"M": l.M.detach().cpu().contiguous(), "z": l.z.detach().cpu().contiguous()})
                for l in self.layers]

    def pending_blob(self) -> bytes:
        return st_save({"pending": self.pending.detach().cpu().contiguous()})

    @classmethod
    def from_blobs(cls, layer_blobs: list[bytes], pending_blob: bytes, segments: int,
                   device: torch.device | str = "cpu") -> Memory:
        layers = []
        for i, blob in enumerate(layer_blobs):
            try:
                t = st_load(blob)
            except SafetensorError as e:
                raise CorruptSnapshot(f"layer {i} memory cannot be decoded: {e}") from e
            if set(t) != {"M", "z"} or t["M"].dtype != torch.float32 or t["z"].dtype != torch.float32:
                raise CorruptSnapshot(f"layer {i} memory holds {sorted(t)} with unexpected dtypes")
            layers.append(LayerMemory(M=t["M"].to(device), z=t["z"].to(device)))
        try:
            pending = st_load(pending_blob)["pending"].to(device)
        except (SafetensorError, KeyError) as e:
            raise CorruptSnapshot(f"pending tokens cannot be decoded: {e}") from e
        return cls(layers=layers, pending=pending, segments=segments)
