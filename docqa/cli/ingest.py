"""`docqa ingest`: stream sources into a corpus memory."""

from __future__ import annotations

import dataclasses
import re
import shlex
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from docqa.cli.main import cli
from docqa.cli.options import (db_option, device_option, dtype_option, echo_json, json_option, model_option, progress,
                                threads_option)
from docqa.cli.progress import IngestProgress
from docqa.cli.startup import model_imports
from docqa.errors import CorpusNotFound
from docqa.store import DEFAULT_CHECKPOINT_SEGMENTS, DEFAULT_KEEP_CHECKPOINTS


def default_corpus_name(path: str) -> str:
    """A valid corpus name from a path: its last component, with odd characters as '-'."""
    base = "stdin" if path == "-" else Path(path).resolve().name or "corpus"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.") or "corpus"
    return name[:64]


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--corpus", "corpus_name", default=None, help="Corpus name. Default: from the first path.")
@click.option("--connector", default=None, help="Force a connector (see `docqa connectors`) instead of choosing by path.")
@click.option("--include", multiple=True, help="Only files matching this glob (repeatable).")
@click.option("--exclude", multiple=True, help="Leave out files matching this glob (repeatable).")
@click.option("--password", default=None, help="Password for encrypted PDFs.")
@click.option("--checkpoint-segments", type=int, default=DEFAULT_CHECKPOINT_SEGMENTS, show_default=True,
              help="Checkpoint after this many new segments (at the next document boundary); answers' sources "
                   "replay at most about this much.")
@click.option("--checkpoint-minutes", type=float, default=5.0, show_default=True,
              help="Also save a checkpoint when this many minutes have passed since the last one.")
@click.option("--keep-checkpoints", type=int, default=DEFAULT_KEEP_CHECKPOINTS, show_default=True,
              help="Checkpoints kept (retention), spread evenly over the stream.")
@click.option("--wait", is_flag=True,
              help="If another ingest is writing this corpus, wait for it to end instead of exiting with status 1.")
@click.option("--replace", is_flag=True,
              help="The corpus was ingested from other paths: replace its sources with PATHS (refused without this).")
@click.option("--corpus-per-path", is_flag=True,
              help="Ingest each PATH into a corpus of its own, named from the path, all at once: their model "
                   "calls run as one batch, much faster than one ingest after another.")
@model_option
@device_option
@dtype_option
@threads_option
@db_option
@json_option
def ingest(paths, corpus_name, connector, include, exclude, password, checkpoint_segments,
           checkpoint_minutes, keep_checkpoints, wait, replace, corpus_per_path, model_path, device, dtype, db_path,
           as_json, threads) -> None:
    """Stream PATHS (folders, repositories, PDFs, text files, or - for stdin) into a corpus.

    Re-running on the same corpus resumes an interrupted ingest, does nothing when nothing
    changed, and re-streams from the first changed source otherwise.
    """
    with model_imports():  # torch and the model code, the collector paused: docqa.cli.startup
        from docqa.api import Corpus
        from docqa.ingest import IngestOptions
        from docqa.precision import precision
        from docqa.threads import set_threads

    if corpus_per_path and corpus_name:
        raise click.UsageError("--corpus-per-path names each corpus from its path: leave out --corpus")
    name = corpus_name or default_corpus_name(paths[0])
    copts = {k: v for k, v in (("include", include), ("exclude", exclude), ("password", password)) if v}
    options = IngestOptions(checkpoint_segments=checkpoint_segments, checkpoint_seconds=checkpoint_minutes * 60,
                            keep_checkpoints=keep_checkpoints, connector=connector, connector_options=copts,
                            wait=wait, replace=replace)
    set_threads(threads)
    model_precision = precision(device, dtype)
    if corpus_per_path:
        _ingest_each(paths, options, model_path, device, db_path, as_json, model_precision)
        return
    corpus = Corpus(name, db=db_path, model=model_path, device=device)
    if not as_json:
        progress(f"ingesting into corpus {name!r} with model {corpus.lm.name}")
    shown = IngestProgress(tty=sys.stderr.isatty())
    try:
        with model_precision:
            report = corpus.ingest(*paths, options=options, on_progress=None if as_json else shown,
                                   on_wait=lambda holder: progress(f"corpus {name!r} is being written by another "
                                                                   f"docqa ({holder.describe()}): waiting for it "
                                                                   "to end"))
    except KeyboardInterrupt:
        shown.finish()
        _interrupted(corpus, rerun_command(click.get_current_context(), name))
    shown.finish()
    if as_json:
        echo_json(dataclasses.asdict(report))
        return
    _echo_report(name, report)


def _echo_report(name: str, report) -> None:
    if report.up_to_date:
        click.echo(f"{name}: up to date ({report.ingested} sources, {report.segments} segments); nothing re-streamed")
        return
    click.echo(f"{name}: {report.ingested} ingested, {len(report.skipped)} skipped, {len(report.failed)} failed; "
               f"{report.tokens:,} tokens streamed in {report.seconds:.1f}s "
               f"({report.tokens / max(report.seconds, 1e-9):,.0f} tok/s); "
               f"memory {report.segments} segments, snapshot {report.snapshot_bytes / 1e6:.2f} MB")
    if report.restreamed_from:
        click.echo(f"resumed from stream position {report.restreamed_from} of {report.sources}")
    for uri, reason in report.skipped[:20]:
        click.echo(f"  skipped {uri}: {reason}")
    for uri, reason in report.failed[:20]:
        click.echo(f"  failed  {uri}: {reason}")
    hidden = max(0, len(report.skipped) - 20) + max(0, len(report.failed) - 20)
    if hidden:
        click.echo(f"  ... and {hidden} more: docqa show {name}")


def _ingest_each(paths, options, model_path, device, db_path, as_json, model_precision) -> None:
    """--corpus-per-path: every path into its own corpus, their model calls batched."""
    from docqa.api import get_model
    from docqa.ingest_many import ingest_many
    from docqa.store import default_store_path

    jobs = [(default_corpus_name(p), [p]) for p in paths]
    lm = get_model(model_path, device)
    if not as_json:
        progress(f"ingesting {len(jobs)} corpora ({', '.join(n for n, _ in jobs)}) with model {lm.name}, "
                 "their model calls batched")
    try:
        with model_precision:
            results = ingest_many(db_path or default_store_path(), lm, jobs, options)
    except KeyboardInterrupt:
        progress("interrupted: each corpus keeps its last checkpoint; run the same command again to resume")
        raise click.exceptions.Exit(130) from None
    failed = [(n, r) for (n, _), r in zip(jobs, results) if isinstance(r, Exception)]
    if as_json:
        echo_json([{"corpus": n, "error": str(r)} if isinstance(r, Exception) else dataclasses.asdict(r)
                   for (n, _), r in zip(jobs, results)])
    else:
        for (n, _), r in zip(jobs, results):
            if not isinstance(r, Exception):
                _echo_report(n, r)
        for n, e in failed:
            progress(f"{n}: {e}")
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(jobs)} corpora failed: "
                                   f"{', '.join(n for n, _ in failed)}")


def rerun_command(ctx: click.Context, name: str) -> str:
    """The command line that runs this ingest again: its paths, --corpus, and the options given
    on the command line (a password shows as PASSWORD: it is not echoed)."""
    args = ["docqa", "ingest", *ctx.params["paths"], "--corpus", name]
    for param in ctx.command.params:
        if (not isinstance(param, click.Option) or param.name == "corpus_name"
                or ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE):
            continue
        flag, value = max(param.opts, key=len), ctx.params[param.name]
        if param.is_flag:
            args += [flag] if value else []
        elif param.name == "password":
            args += [flag, "PASSWORD"]
        else:
            args += [a for v in (value if param.multiple else [value]) for a in (flag, str(v))]
    return shlex.join(args)


def _interrupted(corpus, rerun: str) -> None:
    """Ctrl-C: say what was kept and how to go on, then exit 130 (as a shell does on SIGINT)."""
    try:
        with corpus.store() as store:
            kept = store.latest_checkpoint_at_or_before(corpus.name, sys.maxsize)
    except CorpusNotFound:
        kept = None
    if kept is None:
        progress("interrupted before the first checkpoint: nothing was kept; start again with:")
    else:
        progress(f"interrupted: corpus {corpus.name!r} keeps a checkpoint covering its first {kept.position} "
                 f"sources (snapshot {kept.id}); resume with:")
    progress(f"  {rerun}")
    raise click.exceptions.Exit(130)


@cli.command("connectors")
@json_option
def list_connectors(as_json: bool) -> None:
    """List the installed connectors (entry-point group docqa.connectors)."""
    from connectors import registry

    names = registry.names()
    if as_json:
        echo_json(names)
    else:
        for name in names:
            click.echo(name)
