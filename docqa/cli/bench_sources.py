"""`docqa bench sources`: a needle in document k of N, found again as the answer's top source."""

from __future__ import annotations

import click

from docqa.cli.options import device_option, echo_json, json_option, model_option, progress, threads_option
from docqa.cli.startup import model_imports
from docqa.cli.train import bench
from docqa.store import DEFAULT_CHECKPOINT_SEGMENTS, DEFAULT_KEEP_CHECKPOINTS


def _counts(csv: str) -> list[int]:
    try:
        return [int(x) for x in csv.split(",") if x]
    except ValueError as e:
        raise click.BadParameter(f"{csv!r}: give whole numbers separated by commas, e.g. 10,100") from e


def _trials_for(pairs: tuple[str, ...]) -> dict[int, int]:
    out = {}
    for pair in pairs:
        n, sep, t = pair.partition("=")
        if not sep or not n.isdigit() or not t.isdigit():
            raise click.BadParameter(f"{pair!r}: give N=TRIALS, e.g. 1000=5")
        out[int(n)] = int(t)
    return out


@bench.command("sources")
@model_option
@click.option("--n-docs", "n_docs", default="10,100,1000", show_default=True,
              help="Corpus sizes N (documents), comma-separated.")
@click.option("--trials", type=int, default=20, show_default=True,
              help="Trials per N with a needle, and as many without one (the answer is then not in the corpus).")
@click.option("--trials-for", "trials_for", multiple=True,
              help="N=TRIALS: another trial count (of each kind) for one N, e.g. 1000=5. Repeatable.")
@click.option("--doc-bytes", type=int, default=256, show_default=True, help="Length of each document.")
@click.option("--haystack", multiple=True, type=click.Path(exists=True),
              help="Take the documents' text from this folder or file (through the connectors, cut to "
                   "--doc-bytes) instead of the model's synthetic filler. Repeatable.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the trials: same seed, same corpora.")
@click.option("--checkpoint-segments", type=int, default=DEFAULT_CHECKPOINT_SEGMENTS, show_default=True,
              help="Ingest's checkpoint spacing for the corpora, in segments.")
@click.option("--keep-checkpoints", type=int, default=DEFAULT_KEEP_CHECKPOINTS, show_default=True,
              help="Checkpoints the corpora keep; fewer give a small corpus the checkpoint spacing of a larger one.")
@device_option
@threads_option
@json_option
def bench_sources(model_path, n_docs, trials, trials_for, doc_bytes, haystack, seed, checkpoint_segments,
                  keep_checkpoints, device, threads, as_json) -> None:
    """Attribution: hide the passkey in document k of N, ingest through the real connectors,
    ask, and count how often the answer's top source is document k; without a needle, how
    often no source is found. Per answer: forward passes, documents replayed, wall time."""
    with model_imports():  # torch and the model code, the collector paused: docqa.cli.startup
        from docqa.bench.sources import format_table, sources_bench, to_json
        from docqa.ingest import IngestOptions
        from docqa.model.io import load_model
        from docqa.threads import set_threads

    set_threads(threads)
    lm = load_model(model_path, device=device)
    show = lambda c: progress(f"N={c.n_docs}: top-1 {c.top1:.2f} (pass key {c.top1_truth:.2f}), no source "
                              f"{c.no_source:.2f}, {c.forward_passes:.1f} forward passes, {c.seconds:.2f}s per answer")
    policy = IngestOptions(checkpoint_segments=checkpoint_segments, keep_checkpoints=keep_checkpoints)
    cells = sources_bench(lm, _counts(n_docs), trials, trials, doc_bytes, seed, list(haystack) or None,
                          _trials_for(trials_for), policy, on_cell=show)
    if as_json:
        echo_json({"model": lm.name, "fingerprint": lm.fingerprint, "device": device, "doc_bytes": doc_bytes,
                   "haystack": list(haystack) or None, "seed": seed, "checkpoint_segments": checkpoint_segments,
                   "keep_checkpoints": keep_checkpoints, "cells": to_json(cells)})
    else:
        click.echo(f"model {lm.name}, {'haystack ' + ', '.join(haystack) if haystack else 'synthetic filler'}, "
                   f"documents of {doc_bytes} bytes, checkpoints every {checkpoint_segments} segments, "
                   f"{keep_checkpoints} kept, {device}\n")
        click.echo(format_table(cells))
