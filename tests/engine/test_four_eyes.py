"""Four-eyes rule: whoever prepared a case may not complete its approval step (engine-enforced)."""

from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.workflow.bpmn.checks import four_eyes_after
from engine.workflow.commands import claim_task, complete_task, start_case
from engine.workflow.definitions import latest_definition
from engine.workflow.errors import FourEyesViolation
from engine.workflow.models import Case, CaseTask
from tests.engine.conftest import Org


def _only_task(session: Session, case_id: object) -> CaseTask:
    session.expire_all()
    return session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)).one()


def test_the_preparer_cannot_approve_their_own_document(db_session: Session, org: Org) -> None:
    # The substitute holds both roles: they may prepare, and they may approve others' work.
    case = start_case(db_session, "document_approval", department_id=org.department.id)
    prepare = _only_task(db_session, case.id)
    claim_task(db_session, prepare.task_id, org.substitute)
    complete_task(db_session, prepare.task_id, {"title": "Άδεια"}, org.substitute)

    review = _only_task(db_session, case.id)
    assert review.bpmn_id == "Task_Review"
    with pytest.raises(FourEyesViolation, match="four-eyes"):
        complete_task(db_session, review.task_id, {"decision": "approve"}, org.substitute)
    assert _only_task(db_session, case.id).task_id == review.task_id  # nothing moved

    complete_task(db_session, review.task_id, {"decision": "approve"}, org.head)
    row = db_session.get(Case, case.id)
    assert row is not None
    db_session.refresh(row)
    assert row.status == "completed"


def test_the_rule_follows_the_last_preparation(db_session: Session, org: Org) -> None:
    # Returned and prepared again by someone else: the first preparer may now approve.
    case = start_case(db_session, "document_approval", department_id=org.department.id)
    complete_task(db_session, _only_task(db_session, case.id).task_id, {"title": "v1"}, org.substitute)
    complete_task(
        db_session,
        _only_task(db_session, case.id).task_id,
        {"decision": "return", "comment": "τίτλος"},
        org.head,
    )
    complete_task(db_session, _only_task(db_session, case.id).task_id, {"title": "v2"}, org.clerk)
    complete_task(
        db_session, _only_task(db_session, case.id).task_id, {"decision": "approve"}, org.substitute
    )


def test_certificate_and_document_processes_declare_their_pairs(db_session: Session, org: Org) -> None:
    certificate = latest_definition(db_session, "certificate_issuance")
    document = latest_definition(db_session, "document_approval")
    assert certificate is not None and document is not None
    assert certificate.tasks["approve"].four_eyes_after == ("review", "review_escalated")
    assert certificate.tasks["approve_substitute"].four_eyes_after == ("review", "review_escalated")
    assert document.tasks["Task_Review"].four_eyes_after == ("Task_Prepare",)
    assert document.tasks["Task_SubstituteReview"].four_eyes_after == ("Task_Prepare",)
    assert certificate.tasks["review"].four_eyes_after == ()


def test_the_property_is_read_from_camunda_properties() -> None:
    node = etree.fromstring(
        '<userTask xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="approve"><extensionElements>'
        '<camunda:properties><camunda:property name="polis:fourEyesAfter" value="a, b a" />'
        '<camunda:property name="other" value="c" /></camunda:properties></extensionElements></userTask>'
    )
    assert four_eyes_after(node) == ("a", "b")
