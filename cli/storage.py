"""``polis storage``: checks of the object store."""

from __future__ import annotations

import sys

import click

from cli.context import settings_of
from core.database import database_url
from core.orm import make_engine, make_session_factory, session_scope
from storage import open_store
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
    engine.dispose()
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
