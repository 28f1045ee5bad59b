"""Entry point: the `docqa` group. Each command group lives in its own module and is added here.

Errors a user can cause (docqa's own exceptions) become one short line and exit status 1.
Anything else is a bug: one line saying so, exit status 2, and its traceback behind `--debug`.
DOCQA_DEBUG=1 does what --debug does; DOCQA_DEBUG=internal (the test suite's setting) shows
tracebacks of bugs only, keeping the one-line messages of user errors.
"""

from __future__ import annotations

import os
import sys

import click

from docqa.cli.startup import running_as_program
from docqa.errors import DocqaError


class InternalError(click.ClickException):
    exit_code = 2


class DocqaGroup(click.Group):
    def __call__(self, *args, **kwargs):
        # `cli()` is how the console script starts docqa: the process is the program's until it
        # exits, so a model command may pause the collector for its imports (docqa.cli.startup).
        # CliRunner and other in-process callers go through `main()` and keep their own settings.
        with running_as_program():
            return super().__call__(*args, **kwargs)

    def invoke(self, ctx: click.Context):
        debug = os.environ.get("DOCQA_DEBUG", "")
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
            return result
        except BrokenPipeError:
            # `docqa show NAME | head`: the reader closed stdout; that is normal, not an error.
            # Point stdout at /dev/null so the interpreter's final flush does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except DocqaError as e:
            if ctx.params.get("debug") or debug == "1":
                raise
            raise click.ClickException(str(e)) from e
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as e:  # the CLI boundary: a bug gets one line, its traceback behind --debug
            if ctx.params.get("debug") or debug in ("1", "internal"):
                raise
            raise InternalError(f"internal error ({type(e).__name__}: {e}); rerun with --debug for the "
                                "traceback and report it") from e


@click.group(cls=DocqaGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks (also DOCQA_DEBUG=1).")
@click.version_option(package_name="docqa")
def cli(debug: bool) -> None:
    """docqa: ask questions of a corpus through a compressive memory, no vector store."""


def _register() -> None:
    from docqa.cli import commands  # noqa: F401  (each module adds its commands to `cli`)


_register()
