"""The command reference, docs/cli.md, generated from `--help` so the two cannot drift.

    python -m docqa.cli.reference > docs/cli.md

A test regenerates it and compares (as sqlite-utils does with cog): a new command or option
that is not in docs/cli.md fails the suite until this is rerun.
"""

from __future__ import annotations

import click

from docqa.cli.main import cli


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command under `group`, the group itself first, depth first in name order."""
    paths = [prefix]
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            paths += command_paths(cmd, prefix + (name,))
        else:
            paths.append(prefix + (name,))
    return paths


def help_text(path: tuple[str, ...]) -> str:
    cmd: click.Command = cli
    ctx = click.Context(cli, info_name="docqa", terminal_width=100, max_content_width=100)
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
        ctx = click.Context(cmd, parent=ctx, info_name=name, terminal_width=100, max_content_width=100)
    return cmd.get_help(ctx)


def reference() -> str:
    parts = ["# Command reference\n\nGenerated from `--help` by `python -m docqa.cli.reference > docs/cli.md`;"
             " do not edit by hand.\n"]
    for path in command_paths(cli):
        title = " ".join(("docqa",) + path)
        parts.append(f"## {title}\n\n```\n{help_text(path)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    click.echo(reference(), nl=False)
