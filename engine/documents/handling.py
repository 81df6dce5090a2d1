"""What the unit does with a document assigned for action, task by task (incoming_document.bpmn).

Each function checks the input, completes the case's open task through the engine (which
checks who may) and writes the assignment's new state and the document's history in the
same transaction. The process's service tasks (engine.documents.handlers) write the same
states idempotently, so a task completed through the generic task API ends the same way.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.documents.assignments import deadline_for, live_assignment_of_case, move_assignment
from engine.documents.catalogue import file_plan
from engine.documents.errors import AlreadyHandled, DocumentInvalid, DocumentNotFound
from engine.documents.history import record_event
from engine.documents.models import AssignmentState, DocumentAssignment, IncomingDocument
from engine.people.models import Department, User
from engine.workflow.commands import assign_task, complete_task, forward_task
from engine.workflow.models import CaseTask

#: Tasks of incoming_document.bpmn by what they are for.
HEAD_TASKS = frozenset({"route", "handle_escalated"})
CLERK_TASKS = frozenset({"handle"})


def _task(session: Session, task_id: uuid.UUID) -> tuple[CaseTask, DocumentAssignment]:
    task = session.get(CaseTask, task_id)
    if task is None or task.process_id != "incoming_document":
        raise AlreadyHandled("This step was already done, or the document moved on; refresh the page.")
    return task, live_assignment_of_case(session, task.case_id)


def _open_task(session: Session, case_id: uuid.UUID, bpmn_id: str) -> CaseTask:
    found = session.scalars(
        select(CaseTask).where(CaseTask.case_id == case_id, CaseTask.bpmn_id == bpmn_id)
    ).one_or_none()
    if found is None:  # the process file and this module disagree
        raise DocumentNotFound(f"the case has no open '{bpmn_id}' step; check incoming_document.bpmn.")
    return found


def route_to_clerk(session: Session, task_id: uuid.UUID, clerk_id: uuid.UUID, head: User) -> CaseTask:
    """The head gives the document to a clerk of the unit; returns the clerk's task."""
    task, assignment = _task(session, task_id)
    clerk = session.get(User, clerk_id)
    if clerk is None or clerk.department_id != task.department_id or "clerk" not in clerk.roles:
        raise DocumentInvalid(
            "clerk: choose a clerk of this unit.", fields={"clerk": "not a clerk of this unit"}
        )
    data: dict[str, Any] = {"decision": "assign", "clerk": clerk.username}
    if task.bpmn_id == "handle_escalated":  # a second chance comes with a new deadline
        document = session.get(IncomingDocument, assignment.document_id)
        assert document is not None
        assignment.due_at = deadline_for(document.document_type, utcnow())
        data["due_at"] = assignment.due_at.isoformat()
    complete_task(session, task_id, data, head)
    handle = _open_task(session, task.case_id, "handle")
    assign_task(session, handle.task_id, clerk, head)
    record_event(session, assignment.document_id, head, "routed", to=clerk.full_name)
    session.flush()
    return handle


def _filing(session: Session, reason: str, file_plan_code: str) -> tuple[str, str]:
    problems: dict[str, str] = {}
    reason = (reason or "").strip()
    if not reason:
        problems["reason"] = "a reason: say why it is filed (e.g. 'for our records, no action needed')"
    if file_plan_code not in file_plan():
        problems["file_plan_code"] = "a subject of the file plan (θεματολόγιο): choose one from the list"
    if problems:
        raise DocumentInvalid(
            "Filing needs " + " and ".join(problems.values()) + "; nothing was filed.", fields=problems
        )
    return reason, file_plan_code


def file_document(
    session: Session, task_id: uuid.UUID, reason: str, file_plan_code: str, user: User
) -> DocumentAssignment:
    """Αρχειοθέτηση by the clerk (or the head while routing): a reason and a file-plan subject."""
    reason, code = _filing(session, reason, file_plan_code)
    _, assignment = _task(session, task_id)
    complete_task(session, task_id, {"decision": "file", "reason": reason, "file_plan_code": code}, user)
    close_as_filed(session, assignment, reason, code, user)
    return assignment


def close_as_filed(
    session: Session, assignment: DocumentAssignment, reason: str, code: str, user: User | None
) -> None:
    """Write the filing on the assignment and the history (once)."""
    if assignment.state != AssignmentState.OPEN:
        return
    assignment.state = AssignmentState.FILED.value
    assignment.reason = reason
    assignment.file_plan_code = code
    assignment.closed_at = utcnow()
    assignment.closed_by_id = user.id if user is not None else None
    subject = file_plan()[code]
    record_event(
        session,
        assignment.document_id,
        user,
        "filed",
        unit=_unit_code(session, assignment.department_id),
        reason=reason,
        file_plan=f"{code} {subject.el}",
    )
    session.flush()


def start_reply(session: Session, task_id: uuid.UUID, note: str, user: User) -> DocumentAssignment:
    """The unit will answer: the intent is recorded (the outgoing-documents flow drafts it)."""
    _, assignment = _task(session, task_id)
    data: dict[str, Any] = {"decision": "reply"}
    if note and note.strip():
        data["note"] = note.strip()
    complete_task(session, task_id, data, user)
    close_as_reply(session, assignment, (note or "").strip() or None, user)
    return assignment


def close_as_reply(
    session: Session, assignment: DocumentAssignment, note: str | None, user: User | None
) -> None:
    """Write the reply intent on the assignment and the history (once)."""
    if assignment.state != AssignmentState.OPEN:
        return
    assignment.state = AssignmentState.REPLY.value
    assignment.reason = note
    assignment.closed_at = utcnow()
    assignment.closed_by_id = user.id if user is not None else None
    record_event(
        session,
        assignment.document_id,
        user,
        "reply_started",
        unit=_unit_code(session, assignment.department_id),
        note=note,
    )
    session.flush()


def return_to_head(session: Session, task_id: uuid.UUID, note: str, user: User) -> CaseTask:
    """The clerk gives the document back to the head (e.g. not ours); returns the head's task."""
    task, assignment = _task(session, task_id)
    data: dict[str, Any] = {"decision": "return"}
    if note and note.strip():
        data["note"] = note.strip()
    complete_task(session, task_id, data, user)
    record_event(session, assignment.document_id, user, "returned", note=data.get("note"))
    session.flush()
    return _open_task(session, task.case_id, "route")


def reassign(
    session: Session, task_id: uuid.UUID, unit_id: uuid.UUID, reason: str, head: User
) -> DocumentAssignment:
    """The head moves the document to another unit, with a reason; the case moves with it and
    starts there again (its head routes it) with a new deadline. Returns the new assignment."""
    reason = (reason or "").strip()
    if not reason:
        raise DocumentInvalid(
            "reason: say why the document goes to another unit; nothing was moved.",
            fields={"reason": "required"},
        )
    task, assignment = _task(session, task_id)
    unit = session.get(Department, unit_id)
    if unit is None or not unit.is_active:  # a unit the org chart closed no longer exists
        raise DocumentInvalid(
            "unit: that unit no longer exists; choose another. Nothing was moved.",
            fields={"unit": "no longer exists"},
        )
    if unit.id == task.department_id:
        raise DocumentInvalid(
            "unit: the document is already with this unit; choose another.", fields={"unit": "same unit"}
        )
    moved = move_assignment(session, assignment, unit.id, reason, head)
    assert moved.due_at is not None
    data = {"decision": "reassign", "unit": unit.code, "reason": reason, "due_at": moved.due_at.isoformat()}
    case_id = task.case_id
    complete_task(session, task_id, data, head)
    route = _open_task(session, case_id, "route")
    forward_task(session, route.task_id, unit.id, head)
    record_event(
        session,
        assignment.document_id,
        head,
        "reassigned",
        from_unit=_unit_code(session, assignment.department_id),
        to_unit=unit.code,
        reason=reason,
    )
    session.flush()
    return moved


def _unit_code(session: Session, unit_id: uuid.UUID) -> str:
    unit = session.get(Department, unit_id)
    return unit.code if unit is not None else str(unit_id)
