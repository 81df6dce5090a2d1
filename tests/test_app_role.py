"""The application connects as a role that owns nothing and may not rewrite history
(migration 0019_app_role); the tests run as that role (tests/conftest.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def test_the_tests_run_as_the_application_role_which_owns_nothing(db_session: Session) -> None:
    assert db_session.scalar(text("SELECT current_user")) == "polis_app"
    owned = db_session.scalar(
        text(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
            " WHERE r.rolname = current_user"
        )
    )
    assert owned == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events CASCADE",
        "UPDATE protocol_entries SET subject = 'άλλο'",
        "UPDATE protocol_entries SET number = number + 1",
        "DELETE FROM protocol_entries",
        "TRUNCATE protocol_entries CASCADE",
        "UPDATE protocol_entry_relations SET related_id = entry_id",
        "DELETE FROM protocol_entry_relations",
        "TRUNCATE protocol_entry_relations",
        "UPDATE protocol_entry_files SET sha256 = sha256",
        "UPDATE issued_documents SET sha256 = sha256",
        "DELETE FROM issued_documents",
        "TRUNCATE issued_documents CASCADE",
        "DELETE FROM audit_anchors",
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
        "DROP TABLE audit_events",
    ],
)
def test_the_application_role_cannot_rewrite_history(db_session: Session, statement: str) -> None:
    with pytest.raises(DBAPIError, match=r"permission denied|must be owner"), db_session.begin_nested():
        db_session.execute(text(statement))


def test_the_application_role_may_set_the_state_columns(db_session: Session) -> None:
    # Cancellation, receipt and case link of an entry, revocation of a document: the triggers
    # decide which changes are legal; the role may try (no rows here, so nothing changes).
    db_session.execute(
        text("UPDATE protocol_entries SET cancel_reason = 'x', cancelled_at = now() WHERE false")
    )
    db_session.execute(text("UPDATE issued_documents SET status = 'revoked', revoked_at = now() WHERE false"))
