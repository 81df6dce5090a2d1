"""Case commands: each is one transaction that locks the case before the workflow moves.

Services take a Session and never commit; the caller (web request, job, CLI) commits.
Every refusal is a domain error raised before anything is written, so a rollback
leaves the database exactly as it was.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from SpiffWorkflow.exceptions import TaskNotFoundException, WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from core.clock import athens_year, utcnow
from core.errors import InvalidInput
from engine.workflow.definitions import LoadedDefinition, latest_definition
from engine.workflow.directory import Performer, directory
from engine.workflow.errors import (
    CaseNotFound,
    FormInvalid,
    FourEyesViolation,
    TaskConflict,
    TaskForbidden,
    TaskNotFound,
    TaskReserved,
)
from engine.workflow.models import AuditEvent, Case
from engine.workflow.runtime import (
    TASKS,
    Actor,
    OpenCase,
    lock_case,
    lock_task,
    save_case,
    snapshot,
)
from engine.workflow.serialization import new_workflow
from forms.schemas import form_owner, validation_errors

_COUNTER = text(
    "INSERT INTO case_counters (year, last_number) VALUES (:year, 1) "
    "ON CONFLICT (year) DO UPDATE SET last_number = case_counters.last_number + 1 "
    "RETURNING last_number"
)


def actor_of(user: Performer) -> Actor:
    """The audit identity of a user."""
    return Actor(user.id, user.full_name or user.username)


def next_case_number(session: Session, year: int) -> str:
    """Take the next number of ``year`` from its locked counter row (gap-free, never max()+1)."""
    number = session.execute(_COUNTER, {"year": year}).scalar_one()
    return f"{year}/{number:06d}"


_COUNTER_MANY = text(
    "INSERT INTO case_counters (year, last_number) VALUES (:year, :count) "
    "ON CONFLICT (year) DO UPDATE SET last_number = case_counters.last_number + :count "
    "RETURNING last_number"
)


def next_case_numbers(session: Session, year: int, count: int) -> list[str]:
    """Take ``count`` consecutive numbers of ``year`` in one counter update (for a caller that
    starts that many cases in its transaction: still gap-free, the counter row locked once)."""
    if count < 1:
        return []
    last = session.execute(_COUNTER_MANY, {"year": year, "count": count}).scalar_one()
    return [f"{year}/{number:06d}" for number in range(last - count + 1, last + 1)]


def start_case(
    session: Session,
    process_id: str,
    *,
    department_id: uuid.UUID | None,
    started_by: Performer | None = None,
    applicant: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    due_at: datetime | None = None,
    definition: LoadedDefinition | None = None,
    number: str | None = None,
) -> OpenCase:
    """Start a case on the newest version of ``process_id`` and run it to its first wait.

    A caller starting several cases of one process in a transaction may look the definition
    up once (``latest_definition``) and take their numbers at once (:func:`next_case_numbers`).
    """
    if definition is None:
        definition = latest_definition(session, process_id)
    elif definition.process_id != process_id:
        raise InvalidInput(f"definition {definition.process_id!r} given to start a {process_id!r} case.")
    if definition is None:
        raise CaseNotFound(f"process '{process_id}' is not deployed; run `polis processes deploy` first.")
    start_forms = [i.form_key for i in definition.tasks.values() if i.kind == "startEvent" and i.form_key]
    if start_forms:
        errors = validation_errors(start_forms[0], data or {})
        if errors:
            raise FormInvalid(
                f"the request form has errors: {'; '.join(errors)}. Correct them and submit again.", errors
            )
    now = utcnow()
    workflow = new_workflow(definition.spec, definition.subprocess_specs)
    case = OpenCase(
        id=uuid.uuid4(),
        number=number or next_case_number(session, athens_year(now)),
        process_id=process_id,
        status="active",
        department_id=department_id,
        version=0,
        audit_seq=0,
        audit_hash="",
        milestone="",
        data=dict(data or {}),
        definition=definition,
        workflow=workflow,
    )
    case.new_columns = {
        "number": case.number,
        "tracking_code": secrets.token_urlsafe(24),  # 192 bits, URL-safe, unrelated to the number
        "applicant": applicant or {},
        "due_at": due_at,
    }
    snapshot(case)
    workflow.data.update(case.data)
    start = workflow.get_tasks(state=TaskState.READY)
    for task in start:
        task.data.update(case.data)
    _advance(case)
    case.record(
        "case_started",
        None,
        process=process_id,
        version=definition.version,
        data=case.data,
    )
    save_case(session, case, actor_of(started_by) if started_by else Actor.system())
    return case


def _advance(case: OpenCase) -> None:
    try:
        case.workflow.do_engine_steps()
    except WorkflowException as exc:
        raise InvalidInput(
            f"case {case.number}: the process could not continue ({exc}); fix the process definition "
            "or the data and try again."
        ) from None


def _open_task(session: Session, task_id: uuid.UUID) -> tuple[OpenCase, Any]:
    """Lock the task's index row and its case; explain why if the task is not open."""
    found = lock_task(session, task_id)
    if found is None:
        done = session.execute(
            select(AuditEvent.actor, AuditEvent.at).where(
                AuditEvent.task_id == task_id, AuditEvent.action == "task_completed"
            )
        ).first()
        if done is not None:
            raise TaskConflict(
                f"this task was already completed by {done.actor}; open the case to see the result."
            )
        raise TaskNotFound(f"task {task_id} is not open; it may have been withdrawn. Refresh your inbox.")
    return found


def _check_may_work(session: Session, user: Performer, row: Any) -> None:
    if not user.is_active:
        raise TaskForbidden("your account is disabled; ask an administrator.")
    if row.assignee_id is not None:
        if row.assignee_id not in (user.id, user.acting_for_id):
            other = directory().person_name(session, row.assignee_id)
            raise TaskConflict(
                f"this task is claimed by {other}; ask them or the head of the department to release it."
            )
        if row.role not in user.roles:  # e.g. an approval assigned before the role was taken away
            raise TaskForbidden(
                f"task '{row.title}' needs the {row.role} role, which your account does not have; "
                "ask the head of the department to release it."
            )
        return
    if user.department_id != row.task_department_id or row.role not in user.roles:
        raise TaskForbidden(
            f"task '{row.title}' belongs to the {row.role} role of another department; "
            "it is not in your inbox. Ask the head of that department to forward it."
        )


def check_may_work(session: Session, user: Performer, row: Any) -> None:
    """Refuse unless ``user`` may work the locked task ``row`` (theirs, or unclaimed in their
    department for their role): for domain commands that act on a task's case."""
    _check_may_work(session, user, row)


def preparation_steps(definition: Any) -> frozenset[str]:
    """The BPMN ids of the steps some approval step names as prepared before it (four eyes)."""
    return frozenset(p for info in definition.tasks.values() for p in info.four_eyes_after)


def _check_head(user: Performer, department_id: uuid.UUID | None) -> None:
    if not user.is_active or "head" not in user.roles or user.department_id != department_id:
        raise TaskForbidden("only the head of the task's department may do this.")


def claim_task(session: Session, task_id: uuid.UUID, user: Performer) -> None:
    """Take an unclaimed task of the user's department and role."""
    case, row = _open_task(session, task_id)
    _check_may_work(session, user, row)
    if row.assignee_id == user.id:
        return
    session.execute(update(TASKS).where(TASKS.c.task_id == task_id).values(assignee_id=user.id))
    case.record("task_claimed", task_id, title=row.title)
    save_case(session, case, actor_of(user))


def release_task(session: Session, task_id: uuid.UUID, user: Performer) -> None:
    """Give a claimed task back to the department's queue (its assignee or the head)."""
    case, row = _open_task(session, task_id)
    if row.assignee_id != user.id:
        _check_head(user, row.task_department_id)
    session.execute(update(TASKS).where(TASKS.c.task_id == task_id).values(assignee_id=None))
    case.record("task_released", task_id, title=row.title)
    save_case(session, case, actor_of(user))


def assign_task(session: Session, task_id: uuid.UUID, assignee: Performer, head: Performer) -> None:
    """The head gives a task to a member of the department who holds the task's role."""
    case, row = _open_task(session, task_id)
    _check_head(head, row.task_department_id)
    if (
        not assignee.is_active
        or assignee.department_id != row.task_department_id
        or row.role not in assignee.roles
    ):
        raise InvalidInput(
            f"{assignee.full_name} cannot take this task: it needs the {row.role} role in this department."
        )
    session.execute(update(TASKS).where(TASKS.c.task_id == task_id).values(assignee_id=assignee.id))
    case.record("task_assigned", task_id, title=row.title, assignee=assignee.full_name)
    save_case(session, case, actor_of(head))


def forward_task(session: Session, task_id: uuid.UUID, department_id: uuid.UUID, head: Performer) -> None:
    """The head moves a task (and the case's responsibility) to another department."""
    case, row = _open_task(session, task_id)
    _check_head(head, row.task_department_id)
    target = directory().unit_code(session, department_id)
    if target is None:
        raise InvalidInput("that department does not exist; pick one from the list.")
    session.execute(
        update(TASKS).where(TASKS.c.task_id == task_id).values(department_id=department_id, assignee_id=None)
    )
    case.department_id = department_id
    case.record("task_forwarded", task_id, title=row.title, department=target)
    save_case(session, case, actor_of(head))


def preparer_of(session: Session, case_id: uuid.UUID, definition: Any, bpmn_id: str) -> uuid.UUID | None:
    """Who last completed a preparation task that ``bpmn_id``'s four-eyes rule names (None if no rule).

    Completions are matched by the task id recorded with them (and, for history written
    before that was recorded, by the preparation task's title).
    """
    info = definition.tasks.get(bpmn_id)
    if info is None or not info.four_eyes_after:
        return None
    titles = [definition.tasks[p].title for p in info.four_eyes_after if p in definition.tasks]
    prepared = session.execute(
        select(AuditEvent.actor_id)
        .where(
            AuditEvent.case_id == case_id,
            AuditEvent.action == "task_completed",
            AuditEvent.details["bpmn_id"].astext.in_(info.four_eyes_after)
            | (~AuditEvent.details.has_key("bpmn_id") & AuditEvent.details["title"].astext.in_(titles)),
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    return None if prepared is None else prepared.actor_id


def _check_four_eyes(session: Session, case: OpenCase, row: Any, user: Performer) -> None:
    if preparer_of(session, case.id, case.definition, row.bpmn_id) == user.id:
        raise FourEyesViolation(
            f"you prepared this case, so you cannot also complete '{row.title}' (four-eyes rule); "
            "another head or the substitute must decide."
        )


def complete_task(
    session: Session, task_id: uuid.UUID, data: dict[str, Any], user: Performer, *, owner: str | None = None
) -> OpenCase:
    """Validate the form data, run the task and move the case on to its next wait.

    A task whose form names the domain engine that completes it (``x-polis-completed-by``) is
    refused unless that engine calls with ``owner`` set to its name: the generic task page and
    API would skip the engine's own checks and records (and leave the case in an incident).
    """
    if not isinstance(data, dict):
        raise FormInvalid(
            "form data must be an object of field names and values.",
            ["(form): not an object"],
        )
    case, row = _open_task(session, task_id)
    _check_may_work(session, user, row)
    reserved_for = form_owner(row.form_key)
    if reserved_for is not None and owner != reserved_for:
        raise TaskReserved(
            f"task '{row.title}' is completed on its own page ({reserved_for}), not through the "
            "generic task form; open that page to act on it.",
            reserved_for,
        )
    _check_four_eyes(session, case, row, user)
    errors = validation_errors(row.form_key, data)
    if errors:
        raise FormInvalid(
            f"the form '{row.title}' has errors: {'; '.join(errors)}. Correct them and submit again.",
            errors,
        )
    try:
        task = case.workflow.get_task_from_id(task_id)
    except TaskNotFoundException:
        task = None
    if task is None or task.state != TaskState.READY:
        raise TaskConflict(f"task '{row.title}' is no longer waiting for input; refresh the case.")
    task.data.update(data)
    task.run()
    _advance(case)
    case.data.update(data)
    case.record("task_completed", task_id, title=row.title, bpmn_id=row.bpmn_id, data=data)
    save_case(session, case, actor_of(user))
    return case


def add_comment(session: Session, case_id: uuid.UUID, comment: str, user: Performer) -> None:
    """Add a comment to the case's history."""
    comment = comment.strip()
    if not comment or len(comment) > 5000:
        raise InvalidInput("a comment must have between 1 and 5000 characters.")
    case = lock_case(session, case_id)
    case.record("comment_added", None, comment=comment)
    save_case(session, case, actor_of(user))


#: Events other engines add to a case's history; the tracking page reads the public ones.
DOCUMENT_ISSUED = "document_issued"


def record_document_issued(session: Session, case_id: uuid.UUID, **details: Any) -> None:
    """Note in the case's audit log that a document was issued to its applicant (by the engine
    itself: e.g. an outgoing document addressed to the request). ``details`` are public: the
    tracking page shows them (title, protocol number, date, file id, verification code)."""
    case = lock_case(session, case_id)
    case.record(DOCUMENT_ISSUED, None, **details)
    save_case(session, case, Actor.system())


def cancel_case(session: Session, case_id: uuid.UUID, reason: str, user: Performer) -> None:
    """Cancel an active case: its open tasks and timers disappear, the history stays."""
    case = lock_case(session, case_id)
    if case.status != "active":
        raise TaskConflict(f"case {case.number} is already {case.status}; nothing to cancel.")
    if "head" not in user.roles and "admin" not in user.roles:
        raise TaskForbidden("only a head of department or an administrator may cancel a case.")
    case.workflow.cancel()
    case.status = "cancelled"
    case.record("case_cancelled", None, reason=reason.strip())
    save_case(session, case, actor_of(user))


def find_case(session: Session, number_or_code: str) -> Case:
    """A case by its number (2026/000123) or its tracking code."""
    case = session.scalar(
        select(Case).where((Case.number == number_or_code) | (Case.tracking_code == number_or_code))
    )
    if case is None:
        raise CaseNotFound(f"no case '{number_or_code}'; check the number or the tracking link.")
    return case
