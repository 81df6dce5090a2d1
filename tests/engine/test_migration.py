"""The engine's revision downgrades and upgrades cleanly, and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import engine.models
import engine.org  # noqa: F401
import storage.models  # noqa: F401
from core.database import downgrade_database, upgrade_database
from core.db import Base


def test_downgrade_and_upgrade_again(fresh_db_url: str) -> None:
    downgrade_database(fresh_db_url, "0001_foundation")
    engine = create_engine(fresh_db_url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            assert "cases" not in tables and not [t for t in tables if t.startswith("procrastinate_")]
        upgrade_database(fresh_db_url)
        with engine.connect() as connection:
            skip_procrastinate = {
                "include_name": lambda name, kind, _: not (name or "").startswith("procrastinate_")
            }
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, **skip_procrastinate}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
