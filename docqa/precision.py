"""Where and in what precision the model runs: the --device and --dtype options.

On CUDA the model's matrix products may run in bfloat16 or float16 under autocast; on CPU only
float32 runs (CPU autocast is slower than float32 on most CPUs, and reproducible snapshots are
the point of a CPU ingest). Whatever the precision, the compressive memory (M, z) is float32:
docqa.model.infini turns autocast off for the memory math, so a snapshot has one format.

Like the device and the thread count, the precision changes the last bits of a memory: a
resumed ingest equals an uninterrupted one bit for bit when both ran with the same settings.

Nothing here imports torch until a precision is asked for, so the CLI can describe the options
without paying for torch.
"""

from __future__ import annotations

import contextlib

from docqa.errors import InputError

DEVICES = ("cpu", "cuda")
DTYPES = ("fp32", "bf16", "fp16")
DEFAULT_DTYPE = "fp32"


def precision(device: str = "cpu", dtype: str = DEFAULT_DTYPE) -> contextlib.AbstractContextManager:
    """The context to run the model in: autocast to `dtype` on CUDA, nothing for fp32.

    Refuses, naming the fix, a device this machine lacks and a reduced precision on CPU.
    """
    if device not in DEVICES:
        raise InputError(f"device {device!r}: choose one of {', '.join(DEVICES)}")
    if dtype not in DTYPES:
        raise InputError(f"dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda, but torch finds no CUDA device here: use --device cpu")
    if dtype == "fp32":
        return contextlib.nullcontext()
    if device != "cuda":
        raise InputError(f"--dtype {dtype} runs on CUDA only (autocast); on {device} use --dtype fp32")
    return torch.autocast("cuda", dtype=torch.bfloat16 if dtype == "bf16" else torch.float16)
