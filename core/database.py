"""Where the database is: an external server, or the embedded cluster under var/pg."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from core.pgcluster import PgCluster
from core.settings import PROJECT_ROOT, Settings

DATABASE_NAME = "polis"
#: The group role the application's login role belongs to (created by migration 0019_app_role).
APP_ROLE = "polis_app"
#: The embedded cluster's login role for the web servers and the worker.
EMBEDDED_APP_LOGIN = "polis_web"


def embedded_cluster(settings: Settings) -> PgCluster:
    """The private cluster under ``var/pg`` (used when POLIS_DATABASE_URL is unset)."""
    return PgCluster(settings.var_dir / "pg", bin_dir=settings.pg_bin_dir, tcp_port=settings.pg_tcp_port)


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL the application uses (its own role): the external server's, or the
    embedded cluster's as ``polis_web``."""
    if settings.database_url:
        return settings.database_url
    url = make_url(embedded_cluster(settings).url(DATABASE_NAME)).set(username=EMBEDDED_APP_LOGIN)
    return url.render_as_string(hide_password=False)


def migration_database_url(settings: Settings) -> str:
    """The SQLAlchemy URL migrations run with: the role that owns the schema."""
    if settings.migration_database_url:
        return settings.migration_database_url
    if settings.database_url:
        return settings.database_url
    return embedded_cluster(settings).url(DATABASE_NAME)


def ensure_app_login(owner_url: str, login: str) -> None:
    """Create ``login`` (no password: the embedded cluster trusts its socket) as a member of
    polis_app, and polis_app itself, if missing. Needs a role allowed to create roles."""
    engine = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for role, options in ((APP_ROLE, "NOLOGIN"), (login, f"LOGIN IN ROLE {APP_ROLE}")):
                exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
                if exists.first() is None:
                    connection.execute(text(f'CREATE ROLE "{role}" {options}'))
    finally:
        engine.dispose()


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for ``url`` (the settings' database when None)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(Path(PROJECT_ROOT) / "migrations"))
    if url:
        config.attributes["url"] = url
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade_database(url: str, revision: str) -> None:
    """Revert migrations down to ``revision``."""
    command.downgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None if never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
