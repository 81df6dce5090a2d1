"""``polis storage``: checks of the object store."""

from __future__ import annotations

import sys

import click

from cli.context import settings_of
from core.database import database_url
from core.orm import make_engine, make_session_factory, session_scope
from storage import open_store
from storage.orphans import GRACE, OrphanReport, sweep_orphans
from storage.records import count_records, scrub


@click.group()
def storage() -> None:
    """Object storage."""


@storage.command()
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Re-read every object the database records and report missing or altered ones."""
    settings = settings_of(ctx)
    store = open_store(settings)
    engine = make_engine(database_url(settings))
    with session_scope(make_session_factory(engine)) as session:
        total = count_records(session)
        click.echo(f"Checking {total} objects in {store.describe()} ...")
        with click.progressbar(length=total, label="verify", file=sys.stderr) as bar:
            report = scrub(session, store, on_progress=lambda _record: bar.update(1))
        orphans = sweep_orphans(session, store, delete=False)
    engine.dispose()
    _print_orphans(orphans, swept=False)
    for label, keys in (
        ("MISSING", report.missing),
        ("ALTERED", report.altered),
        ("UNREADABLE", report.unreadable),
    ):
        for key in keys:
            click.echo(f"{label}  {key}")
    size_mb = report.bytes_read / 1e6
    if report.ok:
        click.echo(f"All {report.checked} objects intact ({size_mb:.1f} MB read).")
        return
    bad = len(report.missing) + len(report.altered) + len(report.unreadable)
    click.secho(
        f"{bad} of {report.checked} objects are damaged or missing. Restore them from backup.", fg="red"
    )
    ctx.exit(2)


def _print_orphans(report: OrphanReport, *, swept: bool) -> None:
    for key in report.deleted if swept else report.orphans:
        click.echo(f"{'DELETED' if swept else 'ORPHAN'}  {key}")
    for key, until in report.retained:
        click.echo(f"RETAINED  {key}  (unrecorded, object lock until {until:%Y-%m-%d})")
    for key, reason in report.failed:
        click.echo(f"NOT DELETED  {key}: {reason}")
    for name in report.temporary:
        click.echo(f"{'DELETED' if swept else 'TEMPORARY'}  incoming/{name}")
    hours = GRACE.total_seconds() / 3600
    if swept:
        click.echo(
            f"Orphan sweep: {len(report.deleted)} unrecorded object(s) and {len(report.temporary)} temporary "
            f"file(s) deleted; {len(report.retained)} kept under retention; {report.young} newer than "
            f"{hours:.0f} h left for their transactions."
        )
    elif report.orphans or report.temporary:
        click.echo(
            f"{len(report.orphans)} object(s) no record points at and {len(report.temporary)} temporary "
            "file(s) (left by transactions that never committed): `polis storage sweep` deletes them "
            "(the worker also does it every night)."
        )


@storage.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.pass_context
def sweep(ctx: click.Context, dry_run: bool) -> None:
    """Delete objects no database record points at (older than an hour, not under retention)."""
    settings = settings_of(ctx)
    store = open_store(settings)
    engine = make_engine(database_url(settings))
    try:
        with session_scope(make_session_factory(engine)) as session:
            report = sweep_orphans(session, store, delete=not dry_run)
    finally:
        engine.dispose()
    _print_orphans(report, swept=not dry_run)
