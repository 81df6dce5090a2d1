"""Where the database is: an external server, or the embedded cluster under var/pg."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from core.pgcluster import PgCluster
from core.settings import PROJECT_ROOT, Settings

DATABASE_NAME = "polis"


def embedded_cluster(settings: Settings) -> PgCluster:
    """The private cluster under ``var/pg`` (used when POLIS_DATABASE_URL is unset)."""
    return PgCluster(settings.var_dir / "pg", bin_dir=settings.pg_bin_dir, tcp_port=settings.pg_tcp_port)


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL Polis uses: the external server's, or the embedded cluster's."""
    if settings.database_url:
        return settings.database_url
    return embedded_cluster(settings).url(DATABASE_NAME)


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
