"""``polis db``: the embedded cluster and the schema migrations."""

from __future__ import annotations

import click

from cli.context import prepare_database, settings_of
from core.database import (
    database_url,
    downgrade_database,
    embedded_cluster,
    migration_database_url,
    upgrade_database,
)


@click.group()
def db() -> None:
    """Database: start/stop the embedded cluster, apply migrations."""


@db.command()
@click.argument("revision", default="head")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = settings_of(ctx)
    prepare_database(settings)
    upgrade_database(migration_database_url(settings), revision)
    click.echo(f"Database is at {revision}.")


@db.command()
@click.argument("revision")
@click.pass_context
def downgrade(ctx: click.Context, revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes every table: data is lost)."""
    settings = settings_of(ctx)
    prepare_database(settings)
    downgrade_database(migration_database_url(settings), revision)
    click.echo(f"Database is at {revision}.")


@db.command()
@click.pass_context
def start(ctx: click.Context) -> None:
    """Start the embedded cluster under var/pg (it keeps running until 'polis db stop')."""
    settings = settings_of(ctx)
    if settings.database_url:
        raise click.UsageError("POLIS_DATABASE_URL is set: Polis uses that server, not an embedded one.")
    prepare_database(settings)
    click.echo(f"PostgreSQL is running: {database_url(settings)}")


@db.command()
@click.pass_context
def stop(ctx: click.Context) -> None:
    """Stop the embedded cluster."""
    embedded_cluster(settings_of(ctx)).stop()
    click.echo("PostgreSQL stopped.")


@db.command()
@click.pass_context
def url(ctx: click.Context) -> None:
    """Print the database URL Polis uses."""
    click.echo(database_url(settings_of(ctx)))
