"""Options shared by several commands, so that each is spelled and documented once."""

from __future__ import annotations

import json

import click

from docqa.precision import DEFAULT_DTYPE, DTYPES
from docqa.threads import MAX_DEFAULT_THREADS, THREADS_ENV

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Store file (SQLite). Default: $DOCQA_DB, else docqa.db in the user data directory.",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")

model_option = click.option(
    "--model",
    "model_path",
    type=click.Path(file_okay=False),
    default=None,
    help="Model directory: docqa's own, or one written by `docqa convert`. Default: the shipped model.",
)

device_option = click.option(
    "--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True, help="Where the model runs."
)

dtype_option = click.option(
    "--dtype", type=click.Choice(DTYPES), default=DEFAULT_DTYPE, show_default=True,
    help="Precision of the model's matrix products: bf16 or fp16 autocast on CUDA, fp32 only on CPU. "
         "The memory is float32 whatever this says.",
)

threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    envvar=THREADS_ENV,
    show_envvar=True,
    default=None,
    help=f"CPU threads for torch. Default: half the CPUs, at most {MAX_DEFAULT_THREADS} (torch's one per core "
         "crawls when the machine is busy).",
)


def echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


def progress(msg: str) -> None:
    """Progress and status lines go to stderr so stdout stays clean for results."""
    click.echo(msg, err=True)


def _plot_needs_matplotlib(ctx, param, path):
    """Refuse --plot without matplotlib while the command line is read, not after a bench has run."""
    if path is not None:
        from docqa.bench.plot import require_matplotlib
        require_matplotlib()
    return path


plot_option = click.option(
    "--plot", "plot_path", type=click.Path(dir_okay=False), default=None, callback=_plot_needs_matplotlib,
    help="Write a PNG plot (needs the plot extra: pip install 'docqa[plot]').",
)
