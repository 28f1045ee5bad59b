"""How many CPU threads torch uses when docqa runs a model.

torch's own default is one thread per core. On a machine that is busy with something else,
those threads spin waiting for each other and a stream slows to a crawl (docs/bench/threads.md
has the table). docqa's default leaves room: half the CPUs this process may use, at most
MAX_DEFAULT_THREADS, at least one.

This module does not import torch until a thread count is set, so the CLI can describe the
option without paying for torch.
"""

from __future__ import annotations

import os

from docqa.errors import ConfigError

THREADS_ENV = "DOCQA_THREADS"
# A cap, not a measured optimum (docs/bench/threads.md measured 2 CPUs): every extra thread is
# one more that spins when the machine is busy.
MAX_DEFAULT_THREADS = 4


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads() -> int:
    return max(1, min(MAX_DEFAULT_THREADS, available_cpus() // 2))


def set_threads(threads: int | None = None) -> int:
    """Make torch use `threads` CPU threads (None: `default_threads()`); returns the count set."""
    n = default_threads() if threads is None else threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"threads must be a whole number of at least 1, not {threads!r}")
    import torch

    torch.set_num_threads(n)
    return n
