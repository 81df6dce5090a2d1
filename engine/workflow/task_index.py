"""Inbox queries over the task index: my tasks, my department's queue, my approvals.

Each query is served by an index on case_tasks (see engine.workflow.models.CaseTask).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import InvalidInput
from engine.workflow.directory import Performer
from engine.workflow.models import Case, CaseTask

SORTS = {
    "due": (CaseTask.due_at.asc().nulls_last(), CaseTask.created_at.asc()),
    "created": (CaseTask.created_at.asc(),),
    "newest": (CaseTask.created_at.desc(),),
    "priority": (CaseTask.priority.desc(), CaseTask.due_at.asc().nulls_last()),
}
APPROVER_ROLE = "head"


@dataclass(frozen=True)
class InboxFilter:
    """Optional narrowing and ordering of an inbox."""

    request_type: str | None = None  # the process id, e.g. document_approval
    service: str | None = None  # the catalogue code of a citizen request (case data service_code)
    due_before: datetime | None = None
    overdue: bool = False
    sort: str = "due"
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class InboxItem:
    """One row of an inbox."""

    task_id: uuid.UUID
    title: str
    case_id: uuid.UUID
    case_number: str
    milestone: str
    request_type: str
    lane: str
    assignee_id: uuid.UUID | None
    priority: int
    created_at: datetime
    due_at: datetime | None
    overdue: bool


def my_tasks(session: Session, user: Performer, filters: InboxFilter | None = None) -> list[InboxItem]:
    """Tasks claimed by or assigned to ``user`` (and to the absent person they stand in for)."""
    return _run(session, CaseTask.assignee_id.in_(_assignees(user)), filters)


def department_queue(
    session: Session, user: Performer, filters: InboxFilter | None = None
) -> list[InboxItem]:
    """Unclaimed tasks of the user's department for any of the user's roles."""
    if user.department_id is None or not user.roles:
        return []
    condition = and_(
        CaseTask.department_id == user.department_id,
        CaseTask.role.in_(user.roles),
        CaseTask.assignee_id.is_(None),
    )
    return _run(session, condition, filters)


def approval_queue(session: Session, user: Performer, filters: InboxFilter | None = None) -> list[InboxItem]:
    """For heads: tasks of their department waiting for a head, unclaimed or theirs."""
    if APPROVER_ROLE not in user.roles or user.department_id is None:
        return []
    condition = and_(
        CaseTask.department_id == user.department_id,
        CaseTask.role == APPROVER_ROLE,
        or_(CaseTask.assignee_id.is_(None), CaseTask.assignee_id.in_(_assignees(user))),
    )
    return _run(session, condition, filters)


def _assignees(user: Performer) -> list[uuid.UUID]:
    """The user and, while substituting, the absent person whose tasks they may work."""
    return [user.id] if user.acting_for_id is None else [user.id, user.acting_for_id]


def inbox_query(condition: Any, filters: InboxFilter | None = None) -> Select[CaseTask, str, str]:
    """The SELECT behind an inbox (exposed so tests can check the plan)."""
    filters = filters or InboxFilter()
    if filters.sort not in SORTS:
        raise InvalidInput(f"unknown sort '{filters.sort}'; use one of {', '.join(SORTS)}.")
    if not 1 <= filters.limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000.")
    if filters.offset < 0:
        raise InvalidInput("offset must be 0 or more.")
    query = (
        select(CaseTask, Case.number, Case.milestone).join(Case, Case.id == CaseTask.case_id).where(condition)
    )
    if filters.request_type:
        query = query.where(CaseTask.process_id == filters.request_type)
    if filters.service:
        query = query.where(Case.data["service_code"].astext == filters.service)
    if filters.due_before:
        query = query.where(CaseTask.due_at < filters.due_before)
    if filters.overdue:
        query = query.where(CaseTask.due_at < utcnow())
    ordered = query.order_by(*SORTS[filters.sort], CaseTask.task_id)  # task_id: stable pages
    return ordered.limit(filters.limit).offset(filters.offset)


def _run(session: Session, condition: Any, filters: InboxFilter | None) -> list[InboxItem]:
    now = utcnow()
    return [
        InboxItem(
            task_id=task.task_id,
            title=task.title,
            case_id=task.case_id,
            case_number=number,
            milestone=milestone,
            request_type=task.process_id,
            lane=task.lane,
            assignee_id=task.assignee_id,
            priority=task.priority,
            created_at=task.created_at,
            due_at=task.due_at,
            overdue=task.due_at is not None and task.due_at < now,
        )
        for task, number, milestone in session.execute(inbox_query(condition, filters))
    ]
