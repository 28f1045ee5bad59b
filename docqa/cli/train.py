"""`docqa train` and `docqa bench recall`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from docqa.cli.main import cli
from docqa.cli.options import (device_option, dtype_option, echo_json, json_option, model_option, plot_option,
                                progress, threads_option)
from docqa.cli.startup import model_imports
from docqa.errors import ConfigError


def _parse_sets(pairs: tuple[str, ...]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set {pair!r}: write KEY=VALUE, for example --set max_segments=8")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--steps", type=int, default=None, help="Train until this many steps in total.")
@click.option("--minutes", type=float, default=None, help="Stop (with a checkpoint) after this long.")
@click.option("--stop-at", type=int, default=None, help="Stop (with a checkpoint) at this step; the schedule keeps --steps.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a TrainConfig field (new runs and --branch-from), e.g. --set max_segments=8.")
@click.option("--init-from", type=click.Path(exists=True, file_okay=False), default=None,
              help="Start a new run from this model directory: docqa's own, or one written by `docqa convert` "
                   "(its memory parameters train, the checkpoint stays frozen; --set train_attention=true "
                   "also trains its attention projections).")
@click.option("--branch-from", type=click.Path(exists=True, file_okay=False), default=None,
              help="Start RUN_DIR as a copy of this run's latest checkpoint (model, optimizer moments, "
                   "history bank, step) with the --set changes, and go on from there.")
@device_option
@threads_option
@click.pass_context
def train(ctx: click.Context, run_dir: str, steps: int | None, minutes: float | None, stop_at: int | None,
          sets: tuple[str, ...], init_from: str | None, branch_from: str | None, device: str,
          threads: int | None) -> None:
    """Train a model from scratch (or from --init-from) into RUN_DIR, or resume the run there.

    A resumed run keeps its device and thread count unless --device or --threads (or $DOCQA_THREADS)
    names new ones. --branch-from changes a run's settings (the task mix, the learning rate) without
    the fresh optimizer and empty histories of a new run: the parent run is left as it was.
    RUN_DIR/checkpoint/model is a model directory usable with --model once the first checkpoint lands.
    """
    with model_imports():  # torch and the model code, the collector paused: docqa.cli.startup
        from docqa.threads import default_threads
        from docqa.train.loop import TrainConfig, branch_run, checkpoint_dir, train as run_training

    run = Path(run_dir)
    overrides = _parse_sets(sets) | ({"init_from": init_from} if init_from else {})
    if ctx.get_parameter_source("device") is click.core.ParameterSource.DEFAULT:
        device = None  # a new run gets the option's default below; a resumed one keeps its own
    if branch_from is not None:
        if init_from:
            raise ConfigError("--branch-from takes its parent's model; leave out --init-from")
        branched = branch_run(Path(branch_from), run, overrides | ({} if steps is None else {"steps": steps}))
        progress(f"branched {run} from {branch_from} at step {branched['step']}; changed: "
                 f"{', '.join(sorted(branched['branched_from']['changed'])) or 'nothing'}")
        tc = None
    elif checkpoint_dir(run) is not None:
        if overrides:
            raise ConfigError(f"{run} is an existing run; --set and --init-from apply to new runs only")
        tc = None if steps is None else TrainConfig(steps=steps)
        progress(f"resuming {run}")
    else:
        tc = TrainConfig.from_dict({"threads": default_threads(), **overrides,
                                    **({} if steps is None else {"steps": steps})})

    def show(e: dict) -> None:
        if "eval" in e:
            progress(f"step {e['step']} passkey exact/knockout by length: {e['eval']}")
        if e["step"] % 50 == 0:
            progress(f"step {e['step']} loss {e['loss']:.3f} answer {e['answer_loss']:.3f} "
                     f"acc {e['answer_acc']:.2f} segs {e['segments']} {e['elapsed']:.0f}s "
                     f"gates {e.get('gates')}")

    state = run_training(run, tc, minutes=minutes, on_log=show, stop_at=stop_at, device=device, threads=threads)
    progress(f"stopped at step {state['step']} after {state['elapsed']:.0f}s; model in {run / 'checkpoint' / 'model'}")


@cli.group()
def bench() -> None:
    """Benchmarks that print tables."""


@bench.command("recall")
@model_option
@click.option("--lengths", default="1024,4096,16384", show_default=True, help="Context lengths in tokens.")
@click.option("--depths", default="start,middle,end", show_default=True,
              help="Where the needle sits in the text before the question: start, middle, end.")
@click.option("--n", "n", type=int, default=10, show_default=True, help="Trials per cell.")
@click.option("--facts", default="1,2,4,8,16", show_default=True, help="Fact counts for the facts curve.")
@click.option("--facts-length", type=int, default=2048, show_default=True,
              help="Context length in tokens of the facts curve (and entity tracking with --haystack).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the trials: same seed, same documents.")
@plot_option
@click.option("--haystack", "haystack", multiple=True, type=click.Path(exists=True),
              help="Hide needles, named facts and entity-tracking stories in the text of this folder or "
                   "file (read through the connectors, as ingest does) instead of the synthetic filler; "
                   "adds the FTS5 baseline column. Repeatable.")
@click.option("--splits", default="train,heldout", show_default=True,
              help="With --haystack: phrasings and names seen in training (train), never seen (heldout).")
@click.option("--no-track", is_flag=True, help="With --haystack: leave out the entity-tracking cells.")
@click.option("--contrast", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Decode each answer from what the memory adds over the model without it: (1 + C) x its "
                   "log-probs - C x the knocked-out model's. 0 decodes as `docqa ask` does.")
@device_option
@dtype_option
@threads_option
@json_option
def bench_recall(model_path, lengths, depths, n, facts, facts_length, seed, plot_path, haystack, splits,
                 no_track, contrast, device, dtype, threads, as_json) -> None:
    """Recall by context length and depth, each cell with a memory-knockout control.

    Without --haystack: a passkey in synthetic filler, and a curve of accuracy against the number
    of key-value facts stored. With --haystack DIR: needles (varied phrasings and values), named
    facts and entity tracking hidden in DIR's real text, seen and held-out phrasings reported
    apart, each beside what SQLite FTS5 (BM25, 512-byte chunks) finds in the same text."""
    with model_imports():  # torch and the model code, the collector paused: docqa.cli.startup
        from docqa.model.io import load_model
        from docqa.precision import precision
        from docqa.threads import set_threads

    set_threads(threads)
    click.get_current_context().with_resource(precision(device, dtype))  # for the rest of the command
    lm = load_model(model_path, device=device)
    if haystack:
        _bench_haystack(lm, list(haystack), lengths, depths, n, facts, facts_length, splits, seed,
                        not no_track, plot_path, as_json, contrast)
        return
    from docqa.bench.recall import facts_curve, format_table, passkey_table, to_json
    show = (lambda c: progress(f"{c.task} {c.length} {c.depth}: exact {c.exact:.2f} "
                               f"knockout {c.knockout_exact:.2f}"))
    cells = passkey_table(lm, _ints(lengths), depths.split(","), n, seed, on_cell=show, contrast=contrast)
    if facts:
        cells += facts_curve(lm, _ints(facts), facts_length, n, seed, on_cell=show, contrast=contrast)
    if plot_path:
        from docqa.bench.plot import plot_recall
        plot_recall(cells, Path(plot_path), title=lm.name)
    if as_json:
        echo_json({"model": lm.name, "fingerprint": lm.fingerprint, "seed": seed, "contrast": contrast,
                   "cells": to_json(cells)})
    else:
        click.echo(f"model {lm.name}\n")
        click.echo(format_table(cells))


def _ints(csv: str) -> list[int]:
    return [int(x) for x in csv.split(",") if x]


def _bench_haystack(lm, paths, lengths, depths, n, facts, facts_length, splits, seed, track, plot_path, as_json,
                    contrast):
    from docqa.bench.haystack import Haystack, format_table, haystack_bench, to_json

    if plot_path and not _ints(lengths) and not _ints(facts):
        raise click.UsageError("--plot draws the needles and the named-facts curve: give --lengths or --facts")
    hay = Haystack(lm, paths)
    progress(f"haystack: {len(hay.tokens):,} tokens from {', '.join(paths)}")
    show = (lambda c: progress(f"{c.task} {c.split} {c.length} {c.depth}: exact {c.exact:.2f} "
                               f"knockout {c.knockout:.2f} fts {c.fts:.2f}"))
    cells = haystack_bench(lm, hay, _ints(lengths), depths.split(","), _ints(facts), facts_length,
                           splits.split(","), n, seed, track, on_cell=show, contrast=contrast)
    if as_json:
        echo_json({"model": lm.name, "fingerprint": lm.fingerprint, "haystack": paths,
                   "haystack_tokens": len(hay.tokens), "seed": seed, "contrast": contrast, "cells": to_json(cells)})
    else:
        click.echo(f"model {lm.name}, haystack {', '.join(paths)} ({len(hay.tokens):,} tokens)\n")
        click.echo(format_table(cells))
    if plot_path:  # after the results, so a failed plot never costs the bench's output
        from docqa.bench.plot import plot_haystack
        plot_haystack(cells, Path(plot_path), title=f"{lm.name} on {', '.join(paths)}")


@bench.command("code")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@model_option
@click.option("--n", "n", type=int, default=20, show_default=True, help="Questions per kind.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the question sample.")
@plot_option
@device_option
@dtype_option
@threads_option
@json_option
def bench_code(folder, model_path, n, seed, plot_path, device, dtype, threads, as_json) -> None:
    """Ask FOLDER's code questions found with `ast` (which file defines f, the parameters of f,
    a constant's value, a class's base) through the real ingest and ask path, beside a
    memory knockout, the FTS5 baseline (BM25 over 512-byte chunks of each file: right when its
    top chunk holds the answer, or for "which file defines f" is from that file) and the
    memory's gain (nats a token it adds to the true answer, teacher-forced, over the knockout)."""
    with model_imports():  # torch and the model code, the collector paused: docqa.cli.startup
        from docqa.bench.code import code_bench, format_table, to_json
        from docqa.model.io import load_model
        from docqa.precision import precision
        from docqa.threads import set_threads

    set_threads(threads)
    click.get_current_context().with_resource(precision(device, dtype))  # for the rest of the command
    lm = load_model(model_path, device=device)
    show = lambda c: progress(f"{c.kind} {c.split}: exact {c.exact:.2f} knockout {c.knockout:.2f} fts {c.fts:.2f} gain {c.gain:.2f}")
    cells, info = code_bench(lm, folder, n, seed, on_cell=show)
    if as_json:
        echo_json({"model": lm.name, "fingerprint": lm.fingerprint, **info, "seed": seed, "cells": to_json(cells)})
    else:
        click.echo(f"model {lm.name}, {info['folder']}: {info['files']} files, {info['tokens']:,} tokens, "
                   f"{info['facts']} facts\n")
        click.echo(format_table(cells))
    if plot_path:  # after the results, so a failed plot never costs the bench's output
        from docqa.bench.plot import plot_code
        plot_code(cells, Path(plot_path), title=f"{lm.name} on {info['folder']}")
