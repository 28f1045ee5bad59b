"""Answers' sources on the command line: the `--sources` option of ask and chat, and its output."""

from __future__ import annotations

import dataclasses

import click

sources_option = click.option(
    "--sources", "show_sources", is_flag=True,
    help="After the answer, one line per document it came from, best first, with the gain in log-likelihood "
         "(nats) reading it brought over leaving it out; or 'no source found' when the corpus made the answer "
         "no likelier than an empty memory or no one document did. Costs a few forward passes and a short replay.")

NO_SOURCE = ("no source found: neither the corpus nor any one document of it made this answer likelier "
             "(the model may have answered from its weights)")


def source_line(s) -> str:
    where = s.uri.split("#page=")[0] + (f" page {s.page}" if s.page is not None else "")
    return f"source: {where} (gain {s.gain:.1f} nats)"


def echo_sources(attribution) -> None:
    """The answer's sources, one line each, on stdout (they are part of the result)."""
    if not attribution.sources:
        click.echo(NO_SOURCE)
    for s in attribution.sources:
        click.echo(source_line(s))


def attribution_json(attribution) -> dict:
    """What --json adds beside "sources": the scores and the cost of finding them."""
    a = dataclasses.asdict(attribution)
    return {k: a[k] for k in ("full", "knockout", "forward_passes", "replayed", "replayed_tokens", "seconds",
                              "positions", "checkpoints")}
