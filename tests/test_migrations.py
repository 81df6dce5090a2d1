"""Migrations: an empty database reaches head, matches the models, and goes down and up again."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from core.database import alembic_config, current_revision, downgrade_database, upgrade_database
from core.orm import Base, make_engine
from migrations.env_models import include_name  # also registers every model, as in env.py


@pytest.fixture
def empty_db_url(pg_server):
    name = "polis_migrations"
    url = pg_server.create(name)
    yield url
    pg_server.drop(name)


def _pending_changes(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_name": include_name}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_empty_database_upgrades_to_head_and_matches_the_models(empty_db_url):
    upgrade_database(empty_db_url)
    engine = make_engine(empty_db_url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head
    engine.dispose()
    assert _pending_changes(empty_db_url) == []


def test_downgrade_to_base_and_upgrade_again(empty_db_url):
    upgrade_database(empty_db_url)
    downgrade_database(empty_db_url, "base")
    engine = make_engine(empty_db_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade_database(empty_db_url)
    assert _pending_changes(empty_db_url) == []


def test_every_revision_steps_down_and_up_again(empty_db_url):
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [revision.revision for revision in script.walk_revisions("base", "heads")]
    upgrade_database(empty_db_url)
    for _ in revisions:
        downgrade_database(empty_db_url, "-1")
    engine = make_engine(empty_db_url)
    assert current_revision(engine) is None
    engine.dispose()
    for _ in revisions:
        upgrade_database(empty_db_url, "+1")
    assert _pending_changes(empty_db_url) == []


def test_there_is_exactly_one_head():
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
