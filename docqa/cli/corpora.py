"""`docqa corpora`, `docqa show NAME`, `docqa rm NAME`: what the store holds, and removing it."""

from __future__ import annotations

import shlex
from dataclasses import asdict

import click

from docqa.cli.main import cli
from docqa.cli.options import db_option, echo_json, json_option
from docqa.store import Store


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def finish_command(info, db_path: str | None = None, model_path: str | None = None) -> str:
    """The `docqa ingest` that finishes an incomplete corpus (its roots, when known)."""
    if info.roots is None:
        return f"docqa ingest PATH... --corpus {info.name} (the paths it was ingested from)"
    extra = [a for flag, v in (("--model", model_path), ("--db", db_path)) if v for a in (flag, v)]
    return shlex.join(["docqa", "ingest", *info.roots, "--corpus", info.name, *extra])


def _table(header: list[str], rows: list[list[object]]) -> str:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


@cli.command()
@db_option
@json_option
def corpora(db_path: str | None, as_json: bool) -> None:
    """List the corpora in the store, with their sizes and counts."""
    with Store(db_path) as store:
        infos = store.list_corpora()
        path = store.path
    if as_json:
        echo_json([asdict(c) for c in infos])
        return
    if not infos:
        click.echo(f"no corpora in {path} yet")
        return
    click.echo(_table(
        ["NAME", "MODEL", "SOURCES", "SKIPPED", "FAILED", "SIZE", "TOKENS", "SEGMENTS", "SNAPSHOTS", "MEMORY",
         "UPDATED", "STATE"],
        [[c.name, c.model_name, c.sources, c.skipped, c.failed, _size(c.bytes), c.tokens, c.segments,
          c.snapshots, _size(c.snapshot_bytes), c.updated_at[:19], "incomplete" if c.incomplete else "complete"]
         for c in infos]))


@cli.command()
@click.argument("name")
@click.option("--sources", "all_sources", is_flag=True, help="Also list every ingested source.")
@db_option
@json_option
def show(name: str, all_sources: bool, db_path: str | None, as_json: bool) -> None:
    """Show corpus NAME: its model, snapshots, and the sources skipped or failed, with why."""
    with Store(db_path) as store:
        info = store.get_corpus(name)
        snapshots = store.list_snapshots(name)
        sources = store.list_sources(name)
        dropped = store.dropped_snapshots(name)
    if as_json:
        echo_json({"corpus": asdict(info), "snapshots": [asdict(s) for s in snapshots],
                   "sources": [asdict(s) for s in sources], "dropped": [asdict(d) for d in dropped]})
        return
    click.echo(f"corpus {info.name}: model {info.model_name} (fingerprint {info.model_fingerprint[:16]})")
    click.echo(f"{info.sources} sources ({_size(info.bytes)}), {info.skipped} skipped, {info.failed} failed; "
               f"{info.tokens} tokens, {info.segments} segments; updated {info.updated_at[:19]}")
    if info.incomplete:
        click.echo(f"incomplete: its last ingest did not finish; resume with: {finish_command(info, db_path)}")
    click.echo("\nsnapshots:" if snapshots else "\nno snapshots yet")
    if snapshots:
        click.echo(_table(
            ["ID", "KIND", "CURRENT", "PARENT", "POSITION", "TOKENS", "SEGMENTS", "SIZE", "CREATED"],
            [[s.id, s.kind + (" (superseded)" if s.superseded else ""), "*" if s.is_current else "", s.parent_id or "-", s.position, s.tokens, s.segments,
              _size(s.nbytes), s.created_at[:19]] for s in snapshots]))
    if dropped:
        reused = " (an id may since name a newer snapshot)" if {d.snapshot_id for d in dropped} & {
            s.id for s in snapshots} else ""
        click.echo(f"\ndropped as damaged by `docqa check --repair`{reused}:")
        click.echo(_table(["ID", "KIND", "CURRENT", "POSITION", "SOURCES FORGOTTEN", "DROPPED", "PROBLEM"],
                          [[d.snapshot_id, d.kind or "?", "*" if d.was_current else "",
                            "?" if d.position is None else d.position, d.sources_forgotten, d.dropped_at[:19],
                            d.problem] for d in dropped]))
    left_out = [s for s in sources if s.status != "ingested"]
    if left_out:
        click.echo("\nleft out:")
        click.echo(_table(["POSITION", "STATUS", "URI", "REASON"],
                          [[s.position, s.status, s.uri, (s.reason or "") + (f" ({s.error})" if s.error else "")]
                           for s in left_out]))
    if all_sources:
        click.echo("\nsources:")
        click.echo(_table(["POSITION", "URI", "SIZE", "TOKENS", "HASH"],
                          [[s.position, s.uri, _size(s.size), s.tokens, (s.content_hash or "")[:12]]
                           for s in sources if s.status == "ingested"]))


@cli.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@db_option
@json_option
def rm(name: str, yes: bool, db_path: str | None, as_json: bool) -> None:
    """Remove corpus NAME with its snapshots, sources and conversations."""
    with Store(db_path) as store:
        info = store.get_corpus(name)
        if not yes:
            click.confirm(f"Remove corpus {name} ({info.sources} sources, {info.snapshots} snapshots)?",
                          abort=True, err=True)
        store.delete_corpus(name)
    if as_json:
        echo_json({"removed": name})
    else:
        click.echo(f"removed corpus {name}")
