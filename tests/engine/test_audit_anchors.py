"""Anchors: a chain rewritten consistently by the table owner is invisible to the hash chain
alone, and reported against the last RFC 3161 anchor (engine/audit_anchors.py)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.database import APP_ROLE
from engine.audit_anchors import AuditAnchor, CheckToken, TokenCheck, take_anchor, verify_anchors
from engine.protocol.entries import register
from engine.workflow.audit import event_hash, verify_audit
from engine.workflow.models import AuditEvent, Case
from signing.timestamps import check_timestamp, timestamp_digest, token_time
from tests.conftest import as_owner
from tests.engine.conftest import Org
from tests.engine.test_audit import _case_with_history
from tests.protocol.factories import draft
from tests.signing.conftest import test_pki  # noqa: F401  (fixture: a TSA on loopback)
from tests.signing.pkitools import TestPki


def _stamp(pki: TestPki) -> object:
    return lambda digest: timestamp_digest(pki.pki.tsa_url, digest)


def _checker(pki: TestPki, *, trusted: bool = True) -> CheckToken:
    roots = [pki.pki.cert("root")] if trusted else []

    def check(token: bytes, digest: bytes) -> TokenCheck:
        result = check_timestamp(token, digest, roots)
        return TokenCheck(result.intact, result.trusted, result.at)

    return check


def _anchor(session: Session, pki: TestPki) -> AuditAnchor:
    return take_anchor(session, _stamp(pki), token_time=token_time)  # type: ignore[arg-type]


def _rewrite_consistently(session: Session, case_id: uuid.UUID, seq: int, actor: str) -> None:
    """What the owner of the tables can do: change an entry and recompute every later hash and
    the head kept in the case row, so the chain checks out again."""
    session.execute(text("RESET ROLE"))  # the owner of the tables
    session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    session.execute(
        text("UPDATE audit_events SET actor = :actor WHERE case_id = :c AND seq = :s"),
        {"actor": actor, "c": case_id, "s": seq},
    )
    session.expire_all()
    previous = ""
    for row in session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)
    ):
        digest = event_hash(
            previous,
            row.case_id,
            row.seq,
            row.at,
            row.actor_id,
            row.actor,
            row.action,
            row.task_id,
            row.details,
        )
        session.execute(
            text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :id"),
            {"p": previous, "h": digest, "id": row.id},
        )
        previous = digest
    session.execute(text("UPDATE cases SET audit_hash = :h WHERE id = :c"), {"h": previous, "c": case_id})
    session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    session.execute(text(f"SET ROLE {APP_ROLE}"))
    session.expire_all()


def test_a_consistent_rewrite_before_the_anchor_is_reported(
    db_session: Session,
    org: Org,
    test_pki: TestPki,  # noqa: F811
) -> None:
    case_id = _case_with_history(db_session, org)
    register(db_session, draft(subject="Απόφαση δημάρχου"))
    anchor = _anchor(db_session, test_pki)
    assert len(anchor.digest) == 64 and anchor.tsa_token
    clean = verify_anchors(db_session, _checker(test_pki))
    assert clean.ok, clean.problems
    assert clean.cases_checked >= 1 and clean.series_checked >= 1

    _rewrite_consistently(db_session, case_id, 2, "Mallory")  # type: ignore[arg-type]
    assert verify_audit(db_session, case_id) == []  # type: ignore[arg-type]  # the chain alone: fooled
    number = db_session.scalar(select(Case.number).where(Case.id == case_id))
    report = verify_anchors(db_session, _checker(test_pki))
    assert not report.ok
    assert any(f"case {number}" in problem and "rewritten" in problem for problem in report.problems)


def test_a_rewritten_protocol_entry_is_reported(db_session: Session, test_pki: TestPki) -> None:  # noqa: F811
    entry = register(db_session, draft(subject="Σύμβαση καθαριότητας"))
    _anchor(db_session, test_pki)
    with as_owner(db_session):
        db_session.execute(text("ALTER TABLE protocol_entries DISABLE TRIGGER protocol_entries_guard"))
        db_session.execute(
            text("UPDATE protocol_entries SET subject = 'Άλλο θέμα' WHERE id = :id"), {"id": entry.id}
        )
        db_session.execute(text("ALTER TABLE protocol_entries ENABLE TRIGGER protocol_entries_guard"))
    report = verify_anchors(db_session, _checker(test_pki))
    assert any(problem.startswith("protocol GEN/") for problem in report.problems), report.problems


def test_an_altered_or_removed_anchor_is_reported(db_session: Session, test_pki: TestPki) -> None:  # noqa: F811
    register(db_session, draft())
    first = _anchor(db_session, test_pki)
    _anchor(db_session, test_pki)
    assert verify_anchors(db_session, _checker(test_pki)).ok
    db_session.execute(text("RESET ROLE"))  # the owner of the tables
    db_session.execute(text("ALTER TABLE audit_anchors DISABLE TRIGGER audit_anchors_append_only"))
    db_session.execute(
        text("UPDATE audit_anchors SET heads = jsonb_set(heads, '{protocol}', '{}') WHERE id = :id"),
        {"id": first.id},
    )
    db_session.expire_all()
    altered = verify_anchors(db_session, _checker(test_pki)).problems
    assert any("changed after the TSA signed" in problem for problem in altered), altered
    db_session.execute(text("DELETE FROM audit_anchors WHERE id = :id"), {"id": first.id})
    db_session.execute(text("ALTER TABLE audit_anchors ENABLE TRIGGER audit_anchors_append_only"))
    db_session.execute(text(f"SET ROLE {APP_ROLE}"))
    db_session.expire_all()
    removed = verify_anchors(db_session, _checker(test_pki)).problems
    assert any("does not follow" in problem for problem in removed), removed


def test_a_token_from_an_untrusted_tsa_is_reported(db_session: Session, test_pki: TestPki) -> None:  # noqa: F811
    _anchor(db_session, test_pki)
    problems = verify_anchors(db_session, _checker(test_pki, trusted=False)).problems
    assert any("not from a trusted" in problem for problem in problems)


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE audit_events CASCADE",
        "TRUNCATE protocol_entry_relations",
        "TRUNCATE issued_documents CASCADE",
        "TRUNCATE issued_document_events",
        "TRUNCATE audit_anchors",
        "DELETE FROM audit_anchors",
        "UPDATE audit_anchors SET digest = 'x'",
    ],
)
def test_the_owner_cannot_truncate_or_edit_permanent_tables(
    db_session: Session,
    test_pki: TestPki,  # noqa: F811
    statement: str,
) -> None:
    _anchor(db_session, test_pki)
    db_session.commit()  # a savepoint: the rows exist for the statement to hit
    with as_owner(db_session), pytest.raises(DBAPIError, match=r"refused"), db_session.begin_nested():
        db_session.execute(text(statement))
