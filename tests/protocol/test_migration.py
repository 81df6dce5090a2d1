"""The 0003_protocol migration and the protocol models describe the same schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

import engine.protocol.models  # noqa: F401  (registers the tables)
from core.orm import Base


def test_models_match_the_migrated_schema(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [diff for diff in compare_metadata(context, Base.metadata) if "protocol_" in repr(diff)]
    assert differences == []


def test_unaccent_is_installed_and_greek_search_works(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        matched = connection.scalar(
            text(
                "SELECT to_tsvector('greek', polis_unaccent('Αίτηση ΜΟΝΙΜΗΣ κατοικίας'))"
                " @@ websearch_to_tsquery('greek', polis_unaccent('αιτησεις μονιμης'))"
            )
        )
    assert matched is True
