"""The 0004_signing revision goes down and up again cleanly."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from core.database import alembic_config, downgrade_database, upgrade_database
from core.db import make_engine


def _previous_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("postgresql+psycopg://unused/unused"))
    revision = script.get_revision("0004_signing")
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


def test_signing_revision_downgrades_and_upgrades(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        downgrade_database(fresh_db_url, _previous_revision())
        assert "issued_documents" not in inspect(engine).get_table_names()

        upgrade_database(fresh_db_url)

        tables = inspect(engine).get_table_names()
        assert {"issued_documents", "issued_document_events"} <= set(tables)
    finally:
        engine.dispose()
