"""How often ingest reports progress, and how good its ETA is (issue 12, item 11).

    python benchmarks/bench_progress.py [--large-kb 512] [--small 40]

A folder of one large text file and many small ones (Python standard library source, in two
orders: the large file first, then last) is ingested with the shipped model into a temporary
store. Each Progress event is timed. The table gives the longest silence between events, with
every event and with only the events at item boundaries (what a progress display had before
progress was reported inside files), and the ETA that the CLI's renderer (docqa.cli.progress)
shows at a quarter, half and three quarters of the run against the time that was really left.
"""

from __future__ import annotations

import argparse
import sysconfig
import tempfile
import time
from pathlib import Path

import torch

from docqa import Corpus
from docqa.cli.progress import IngestProgress


def make_folder(root: Path, large_kb: int, small: int, large_first: bool) -> None:
    sources = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    text = "".join(p.read_text(errors="replace") for p in sources)
    root.mkdir(parents=True)
    (root / ("a-large.txt" if large_first else "z-large.txt")).write_text(text[:large_kb * 1024])
    for i, p in enumerate(sources[-small:]):
        (root / f"m-{i:03d}.txt").write_text(p.read_text(errors="replace")[:4096])


def run(folder: Path, db: Path) -> list[tuple[float, object]]:
    events: list[tuple[float, object]] = []
    corpus = Corpus("bench", db=db)
    corpus.ingest(str(folder), on_progress=lambda p: events.append((time.monotonic(), p)))
    events.append((time.monotonic(), None))  # the end of the run
    return events


def row(name: str, events: list[tuple[float, object]]) -> str:
    t0, t_end = events[0][0], events[-1][0]
    times = [t for t, _ in events]
    boundaries = [t0] + [t for (t, p), (_, nxt) in zip(events, events[1:])
                         if p is not None and (nxt is None or nxt.position != p.position)] + [t_end]
    gap = max(b - a for a, b in zip(times, times[1:]))
    gap_items = max(b - a for a, b in zip(boundaries, boundaries[1:]))
    clock = {"t": t0}
    shown = IngestProgress(tty=True, clock=lambda: clock["t"], echo=lambda *a, **k: None)
    etas = []
    marks = [t0 + f * (t_end - t0) for f in (0.25, 0.5, 0.75)]
    for t, p in events[:-1]:
        clock["t"] = t
        shown(p)
        while marks and t >= marks[0]:
            eta = shown.eta(p)
            etas.append(f"{eta:.1f} / {t_end - t:.1f}" if eta is not None else f"? / {t_end - t:.1f}")
            marks.pop(0)
    return (f"| {name} | {t_end - t0:.1f} | {len(events) - 1} | {gap:.2f} | {gap_items:.2f} | "
            + " | ".join(etas) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large-kb", type=int, default=512)
    ap.add_argument("--small", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| order | run s | events | longest silence s | ... counting item boundaries only s | "
          "ETA / left at 25% | at 50% | at 75% |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for large_first in (True, False):
            folder = Path(tmp) / f"docs-{large_first}"
            make_folder(folder, args.large_kb, args.small, large_first)
            events = run(folder, Path(tmp) / f"store-{large_first}.db")
            print(row("large file first" if large_first else "large file last", events), flush=True)


if __name__ == "__main__":
    main()
