"""Entry point: the `docqa` group. Each command group lives in its own module and is added here.

docqa's own errors become one short line and exit status 1; anything else is a bug and keeps
its traceback. `--debug` (or DOCQA_DEBUG=1) re-raises docqa's errors too.
"""

from __future__ import annotations

import os

import click

from docqa.errors import DocqaError


class DocqaGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DocqaError as e:
            if ctx.params.get("debug") or os.environ.get("DOCQA_DEBUG") == "1":
                raise
            raise click.ClickException(str(e)) from e


@click.group(cls=DocqaGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks (also DOCQA_DEBUG=1).")
@click.version_option(package_name="docqa")
def cli(debug: bool) -> None:
    """docqa: ask questions of a corpus through a compressive memory, no vector store."""


def _register() -> None:
    from docqa.cli import commands  # noqa: F401  (each module adds its commands to `cli`)


_register()
