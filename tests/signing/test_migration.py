"""The 0004_signing revision goes down and up again cleanly."""

from __future__ import annotations

from sqlalchemy import inspect

from core.database import downgrade_database, upgrade_database
from core.db import make_engine


def test_signing_revision_downgrades_and_upgrades(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        downgrade_database(fresh_db_url, "0001_foundation")
        assert "issued_documents" not in inspect(engine).get_table_names()

        upgrade_database(fresh_db_url)

        tables = inspect(engine).get_table_names()
        assert {"issued_documents", "issued_document_events"} <= set(tables)
    finally:
        engine.dispose()
