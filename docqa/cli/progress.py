"""Ingest progress on stderr: a live line on a terminal, a plain line now and then elsewhere.

The library sends `docqa.ingest.Progress` events (after every source, and inside long files
after every chunk the model reads); this module only renders them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import click

REFRESH_S = 0.2  # a terminal line is redrawn at most this often
EVERY_S = 30.0  # without a terminal (a log, CI), one plain line this often: alive, not flooding
SMOOTH_S = 10.0  # time constant of the rates behind the ETA


class _Rate:
    """Units per second, smoothed over about SMOOTH_S seconds (an exponential moving average
    weighted by time), so that a large or a tiny file does not throw the ETA about."""

    def __init__(self, tau: float):
        self.tau, self.value, self._last = tau, None, None

    def update(self, amount: float, t: float) -> None:
        if self._last is not None:
            dt = t - self._last[1]
            if dt > 0:
                sample = (amount - self._last[0]) / dt
                w = 1 - math.exp(-dt / self.tau)
                self.value = sample if self.value is None else self.value + w * (sample - self.value)
        self._last = (amount, t)

    def restart(self) -> None:
        self._last = None


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class IngestProgress:
    """Call with each Progress event; `finish()` once the ingest has ended (or was interrupted)."""

    def __init__(self, tty: bool, clock: Callable[[], float] = time.monotonic,
                 echo: Callable[..., None] | None = None):
        self.tty, self.clock = tty, clock
        self.echo = echo or (lambda text, nl=True: click.echo(text, err=True, nl=nl))
        self.bytes_rate, self.token_rate = _Rate(SMOOTH_S), _Rate(SMOOTH_S)
        # a terminal shows the first event at once; a log's first line waits its turn
        self.last = -math.inf if tty else clock()
        self.drawn = 0  # width of the live line on the terminal, 0 when none is shown

    def __call__(self, p) -> None:
        now = self.clock()
        if p.checking:  # nothing is streamed while comparing: rates start when streaming does
            self.bytes_rate.restart()
            self.token_rate.restart()
        else:
            self.bytes_rate.update(p.streamed_bytes, now)
            self.token_rate.update(p.streamed, now)
        if now - self.last < (REFRESH_S if self.tty else EVERY_S):
            return
        self.last = now
        line = self.line(p)
        if self.tty:
            self.echo("\r" + line.ljust(self.drawn), nl=False)
            self.drawn = len(line)
        else:
            self.echo(line)

    def eta(self, p) -> float | None:
        """Seconds left: the bytes left over the smoothed bytes per second; None when unknown."""
        rate = self.bytes_rate.value
        if p.total_bytes is None or not rate or rate <= 0:
            return None
        return max(p.total_bytes - p.done_bytes, 0.0) / rate

    def line(self, p) -> str:
        if p.checking:
            return f"{p.position:,} sources checked against the corpus, unchanged so far"
        parts = [f"{p.position:,} sources", f"{p.tokens:,} tokens"]
        if self.token_rate.value is not None:
            parts.append(f"{self.token_rate.value:,.0f} tok/s")
        if p.total_bytes:
            parts.append(f"{min(p.done_bytes / p.total_bytes, 1.0):.0%}")
        eta = self.eta(p)
        parts.append(f"ETA {_duration(eta)}" if eta is not None else "ETA ?")
        return "  ".join(parts)

    def finish(self) -> None:
        """End the live line, so that what is printed next starts on a line of its own."""
        if self.tty and self.drawn:
            self.echo("")
            self.drawn = 0
