"""`docqa check [NAME] [--json] [--repair]`: what in the store is intact, and keeping only that."""

from __future__ import annotations

from dataclasses import asdict

import click

from docqa.cli.main import cli
from docqa.cli.options import db_option, echo_json, json_option
from docqa.store import Store


@cli.command()
@click.argument("name", required=False)
@click.option("--repair", is_flag=True,
              help="Drop damaged snapshots and point each corpus whose current snapshot went at its newest "
                   "intact one (the next ingest resumes there). Nothing intact is deleted.")
@db_option
@json_option
def check(name: str | None, repair: bool, db_path: str | None, as_json: bool) -> None:
    """Check the store (or corpus NAME) for damage: SQLite's integrity check, and every checksum of
    every snapshot. Exit status 1 when anything is damaged."""
    with Store(db_path) as store:
        repaired = store.repair(name) if repair else None
        report = store.check(name)
    if as_json:
        echo_json({**asdict(report), **({"repair": asdict(repaired)} if repaired else {})})
    else:
        if repaired:
            _echo_repair(repaired, report.ok)
        _echo_report(report)
    if not report.ok:
        click.get_current_context().exit(1)


def _echo_repair(repaired, ok: bool) -> None:
    for r in repaired.corpora:
        click.echo(_repair_line(r))
    if repaired.reindexed:
        click.echo(f"rebuilt the indexes of {', '.join(repaired.reindexed)}")
    for failure in repaired.not_reindexed:
        click.echo(f"could not rebuild the indexes of {failure}")
    if repaired.unsound:
        click.echo("nothing dropped: SQLite still finds the file itself damaged, and then an intact snapshot can "
                   "look damaged; restore a backup, or copy what SQLite can still read into a new store with "
                   "`sqlite3 STORE .recover`")
    elif not (repaired.corpora or repaired.reindexed or repaired.not_reindexed):
        click.echo("nothing to repair" if ok else "nothing that --repair can mend")


def _repair_line(r) -> str:
    dropped = ", ".join(f"{d.snapshot_id} ({d.problem})" for d in r.dropped)
    line = f"{r.corpus}: dropped snapshot{'s' if len(r.dropped) != 1 else ''} {dropped}" if r.dropped else f"{r.corpus}:"
    if r.current_after != r.current_before:
        now_current = f"snapshot {r.current_after}" if r.current_after is not None else "none (no snapshot is intact)"
        line += f"; current is now {now_current}"
    if r.resumes_from is not None:
        line += f"; the next `docqa ingest` resumes from source {r.resumes_from}"
    return line


def _echo_report(report) -> None:
    integrity = "ok" if report.integrity == ["ok"] else "; ".join(report.integrity[:5]) + (
        f" (and {len(report.integrity) - 5} more)" if len(report.integrity) > 5 else "")
    click.echo(f"store {report.path}: SQLite integrity check {integrity}")
    for problem in report.problems:
        click.echo(f"  damaged: {problem}")
    for c in report.corpora:
        intact = sum(s.intact for s in c.snapshots)
        click.echo(f"corpus {c.name}: {'intact' if c.intact else 'DAMAGED'} "
                   f"({intact} of {len(c.snapshots)} snapshots intact)")
        for problem in c.problems:
            click.echo(f"  damaged: {problem}")
        for s in c.snapshots:
            what = f"snapshot {s.id} ({s.kind or '?'}{', current' if s.current else ''})"
            click.echo(f"  {what}: {'intact' if s.intact else 'DAMAGED: ' + (s.problem or '')}")
        current_bad = any(s.current and not s.intact for s in c.snapshots)
        if current_bad and c.newest_intact_id is not None:
            click.echo(f"  answer from snapshot {c.newest_intact_id} with `docqa ask {c.name} QUESTION --snapshot "
                       f"{c.newest_intact_id}`, or make it current with `docqa check {c.name} --repair`")
    if not report.ok:
        repairable = any(not s.intact for c in report.corpora for s in c.snapshots) or any(
            "current" in p for c in report.corpora for p in c.problems)
        click.echo("damage found: " + ("`docqa check --repair` drops the damaged snapshots; " if repairable else "")
                   + "damage outside snapshots needs a backup of the store (or `sqlite3 STORE .recover` to copy "
                     "out what SQLite can still read)")
