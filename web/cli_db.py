"""``polis db``: the embedded cluster and the schema migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from core.database import (
    DATABASE_NAME,
    EMBEDDED_APP_LOGIN,
    database_url,
    downgrade_database,
    embedded_cluster,
    ensure_app_login,
    migration_database_url,
    upgrade_database,
)
from core.db import check_database, make_engine, make_session_factory, session_scope
from core.settings import Settings
from web.cli import settings_of


@click.group()
def db() -> None:
    """Database: start/stop the embedded cluster, apply migrations."""


def prepare_database(settings: Settings) -> str:
    """Start the embedded cluster if that is what we use, and make sure the database and (there)
    the application's login role exist; returns the application's URL."""
    if not settings.database_url:
        cluster = embedded_cluster(settings)
        cluster.ensure_running()
        cluster.ensure_database(DATABASE_NAME)
        ensure_app_login(cluster.url(DATABASE_NAME), EMBEDDED_APP_LOGIN)
    url = database_url(settings)
    engine = make_engine(url)
    try:
        check_database(make_session_factory(engine))
    finally:
        engine.dispose()
    return url


@contextmanager
def unit_of_work(ctx: click.Context) -> Iterator[Session]:
    """One committed transaction on the configured database (started if embedded)."""
    engine = make_engine(prepare_database(settings_of(ctx)))
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


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
