"""`polis audit verify` finds an edited or a deleted audit row."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from engine.workflow.audit import verify_audit
from engine.workflow.commands import add_comment, complete_task, start_case
from engine.workflow.models import CaseTask
from tests.conftest import as_owner
from tests.engine.conftest import Org


def _case_with_history(session: Session, org: Org) -> object:
    case = start_case(session, "document_approval", department_id=org.department.id)
    task_id = session.scalar(select(CaseTask.task_id).where(CaseTask.case_id == case.id))
    assert task_id is not None
    complete_task(session, task_id, {"title": "x"}, org.clerk)
    add_comment(session, case.id, "looks fine", org.head)
    assert verify_audit(session, case.id) == []
    return case.id


def _tamper(session: Session, statement: str, **params: object) -> None:
    # Only the owner of the table, who can switch the append-only trigger off, can do this.
    with as_owner(session):
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        session.execute(text(statement), params)
        session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))


def test_edited_row_is_detected(db_session: Session, org: Org) -> None:
    case_id = _case_with_history(db_session, org)
    _tamper(db_session, "UPDATE audit_events SET actor = 'Mallory' WHERE case_id = :c AND seq = 2", c=case_id)
    problems = verify_audit(db_session, case_id)  # type: ignore[arg-type]
    assert [p.seq for p in problems] == [2] and "altered" in problems[0].message


def test_deleted_row_is_detected(db_session: Session, org: Org) -> None:
    case_id = _case_with_history(db_session, org)
    _tamper(db_session, "DELETE FROM audit_events WHERE case_id = :c AND seq = 2", c=case_id)
    problems = verify_audit(db_session, case_id)  # type: ignore[arg-type]
    assert any("missing" in p.message for p in problems)


def test_deleted_last_row_is_detected(db_session: Session, org: Org) -> None:
    case_id = _case_with_history(db_session, org)
    _tamper(db_session, "DELETE FROM audit_events WHERE case_id = :c AND seq = 3", c=case_id)
    problems = verify_audit(db_session, case_id)  # type: ignore[arg-type]
    assert any("chain ends early" in p.message for p in problems)
