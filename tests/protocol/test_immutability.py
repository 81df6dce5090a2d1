"""The database itself refuses to change what the law says never changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine.protocol.drafts import FileRef
from engine.protocol.entries import cancel, register
from engine.protocol.models import ProtocolEntry
from tests.conftest import as_owner
from tests.protocol.factories import draft, fixed_clock, make_user

NOW = fixed_clock(datetime(2026, 5, 5, 8, 0, tzinfo=UTC))
FILE = FileRef("objects/x", "b" * 64, "έγγραφο.pdf", 10, "application/pdf")


@pytest.fixture
def entry(db_session: Session) -> ProtocolEntry:
    return register(db_session, draft(files=(FILE,)), now=NOW)


def refused(session: Session, sql: str, **params: Any) -> str:
    """Run raw SQL as the owner of the tables (the application's role may not even try) in a
    savepoint; return the database's refusal message."""
    with as_owner(session), pytest.raises(DBAPIError) as caught, session.begin_nested():
        session.execute(text(sql), params)
    return str(caught.value.orig)


@pytest.mark.parametrize(
    "change",
    [
        "number = number + 1",
        "year = year + 1",
        "registered_at = registered_at - interval '1 hour'",
        "direction = 'ΕΙΣ'",
        "registry_id = registry_id + 1",
        "subject = 'Άλλο θέμα'",
    ],
)
def test_a_registered_entry_cannot_be_changed_by_sql(
    db_session: Session, entry: ProtocolEntry, change: str
) -> None:
    sql = f"UPDATE protocol_entries SET {change} WHERE id = :id"  # noqa: S608 - fixed test cases
    message = refused(db_session, sql, id=entry.id)
    assert "immutable" in message


def test_an_entry_cannot_be_deleted_or_truncated(db_session: Session, entry: ProtocolEntry) -> None:
    assert "cancel it instead" in refused(
        db_session, "DELETE FROM protocol_entries WHERE id = :id", id=entry.id
    )
    assert "refused" in refused(db_session, "TRUNCATE protocol_entries CASCADE")


def test_registered_file_hashes_cannot_be_changed_or_removed(
    db_session: Session, entry: ProtocolEntry
) -> None:
    sql = "UPDATE protocol_entry_files SET sha256 = :other WHERE entry_id = :id"
    assert "permanent" in refused(db_session, sql, other="c" * 64, id=entry.id)
    assert "permanent" in refused(
        db_session, "DELETE FROM protocol_entry_files WHERE entry_id = :id", id=entry.id
    )


def test_a_cancellation_is_final_in_the_database_too(db_session: Session, entry: ProtocolEntry) -> None:
    cancel(db_session, entry.id, reason="Λάθος", cancelled_by=make_user(db_session), now=NOW)
    sql = "UPDATE protocol_entries SET cancelled_at = NULL, cancel_reason = NULL WHERE id = :id"
    assert "already cancelled" in refused(db_session, sql, id=entry.id)
    assert "already cancelled" in refused(
        db_session, "UPDATE protocol_entries SET cancel_reason = 'άλλος λόγος' WHERE id = :id", id=entry.id
    )


def test_what_may_be_added_later_is_added_once(db_session: Session, entry: ProtocolEntry) -> None:
    db_session.execute(
        text("UPDATE protocol_entries SET ada = 'ΨΩΡΛΩΗΓ-ΑΒΓ' WHERE id = :id"), {"id": entry.id}
    )
    assert "set once" in refused(
        db_session, "UPDATE protocol_entries SET ada = 'ΑΛΛΟ' WHERE id = :id", id=entry.id
    )
