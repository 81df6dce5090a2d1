"""What the staff API reads and checks: inboxes by view, task and case details, case search.

Thin on purpose: the commands (engine.workflow.commands) change cases; this module answers "may this
user see it" and gathers what a screen shows in a few indexed queries, so views need no SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound, PermissionDenied
from engine.notifications.models import Notification
from engine.notifications.outbox import delivery_status
from engine.people.models import Department, User
from engine.people.visibility import CaseForbidden, get_case, is_admin
from engine.requests.files import case_files
from engine.requests.models import CaseFile
from engine.workflow.audit import case_history
from engine.workflow.commands import add_comment, cancel_case
from engine.workflow.errors import TaskNotFound
from engine.workflow.models import AuditEvent, Case, CaseTask, Incident
from engine.workflow.task_index import InboxFilter, InboxItem, approval_queue, department_queue, my_tasks
from forms.schemas import form_definition

VIEWS = ("mine", "department", "approvals")
CASE_STATUSES = ("active", "completed", "cancelled")


@dataclass(frozen=True)
class TaskDetail:
    """An open task with its form and the summary of its case."""

    task: CaseTask
    case: Case
    assignee: User | None
    form: dict[str, Any] | None


@dataclass(frozen=True)
class CaseDetail:
    """Everything the staff case screen shows."""

    case: Case
    department: Department | None
    tasks: list[CaseTask]
    files: list[CaseFile]
    history: list[AuditEvent]
    notifications: list[Notification]
    incidents: list[Incident]
    #: Full names of the open tasks' assignees, by user id.
    assignee_names: dict[uuid.UUID, str]


def _uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def find_user(session: Session, ref: str) -> User:
    """A member of staff by username or id."""
    key = _uuid(ref)
    user = session.get(User, key) if key else session.scalar(select(User).where(User.username == ref.lower()))
    if user is None:
        raise NotFound(f"No member of staff {ref!r}; give a username or a user id.")
    return user


def find_department(session: Session, ref: str) -> Department:
    """A department by code or id."""
    key = _uuid(ref)
    department = (
        session.get(Department, key)
        if key
        else session.scalar(select(Department).where(Department.code.in_({ref, ref.upper()})))
    )
    if department is None:
        raise NotFound(f"No department {ref!r}; give a department code (e.g. DHM) or id.")
    return department


def inbox(session: Session, user: User, view: str, filters: InboxFilter) -> list[InboxItem]:
    """The tasks of one inbox view: ``mine``, ``department`` (unclaimed) or ``approvals`` (heads)."""
    if view == "mine":
        return my_tasks(session, user, filters)
    if view == "department":
        return department_queue(session, user, filters)
    if view == "approvals":
        if "head" not in user.roles:
            raise PermissionDenied("Only heads of department have an approval queue; use view=department.")
        return approval_queue(session, user, filters)
    raise InvalidInput(f"Unknown view {view!r}; use one of {', '.join(VIEWS)}.")


def task_detail(session: Session, task_id: uuid.UUID, user: User) -> TaskDetail:
    """An open task of the user's department (or theirs), with its form definition and case."""
    task = session.get(CaseTask, task_id)
    if task is None:
        raise TaskNotFound(f"Task {task_id} is not open; it may be done or withdrawn. Refresh your inbox.")
    if not (is_admin(user) or task.assignee_id == user.id or task.department_id == user.department_id):
        raise PermissionDenied("This task belongs to another department; it is not in your inbox.")
    case = session.get(Case, task.case_id)
    assert case is not None  # a foreign key
    assignee = session.get(User, task.assignee_id) if task.assignee_id else None
    return TaskDetail(task, case, assignee, form_definition(task.form_key) if task.form_key else None)


def search_cases(
    session: Session,
    user: User,
    *,
    number: str | None = None,
    status: str | None = None,
    department: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Case]:
    """Cases by number (prefix), status and department; non-admins search their department."""
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInput("limit must be between 1 and 500 and offset 0 or more.")
    query = select(Case)
    if department:
        target = find_department(session, department)
        if not is_admin(user) and target.id != user.department_id:
            raise CaseForbidden("You can search the cases of your own department only.")
        query = query.where(Case.department_id == target.id)
    elif not is_admin(user):
        query = query.where(Case.department_id == user.department_id)
    if number:
        query = query.where(Case.number.startswith(number.strip(), autoescape=True))
    if status:
        if status not in CASE_STATUSES:
            raise InvalidInput(f"Unknown status {status!r}; use one of {', '.join(CASE_STATUSES)}.")
        query = query.where(Case.status == status)
    query = query.order_by(Case.created_at.desc(), Case.id).limit(limit).offset(offset)
    return list(session.scalars(query))


def case_detail(session: Session, case_id: uuid.UUID, user: User) -> CaseDetail:
    """A visible case with its open tasks, files, history, notifications and incidents."""
    case = get_case(session, case_id, user)
    tasks = session.scalars(
        select(CaseTask).where(CaseTask.case_id == case.id).order_by(CaseTask.created_at)
    ).all()
    incidents = session.scalars(
        select(Incident).where(Incident.case_id == case.id).order_by(Incident.id)
    ).all()
    return CaseDetail(
        case=case,
        department=session.get(Department, case.department_id) if case.department_id else None,
        tasks=list(tasks),
        files=case_files(session, case.id),
        history=case_history(session, case.id),
        notifications=delivery_status(session, case.id),
        incidents=list(incidents),
        assignee_names=user_names(session, {t.assignee_id for t in tasks if t.assignee_id}),
    )


def user_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Full names of users by id (for assignees shown in lists)."""
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    return dict(rows.all())


def comment_on_case(session: Session, case_id: uuid.UUID, comment: str, user: User) -> None:
    """Add a comment to a case the user may see."""
    get_case(session, case_id, user)
    add_comment(session, case_id, comment, user)


def cancel_visible_case(session: Session, case_id: uuid.UUID, reason: str, user: User) -> None:
    """Cancel a case: its department's head or an administrator, with a reason."""
    case = get_case(session, case_id, user)
    if not is_admin(user) and not ("head" in user.roles and user.department_id == case.department_id):
        raise PermissionDenied("Only the head of the case's department or an administrator may cancel it.")
    if not reason.strip():
        raise InvalidInput("Say why the case is cancelled in 'reason'; it goes into the case history.")
    cancel_case(session, case_id, reason, user)
