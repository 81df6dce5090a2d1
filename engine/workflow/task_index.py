"""Inbox queries over the task index: my tasks, my department's queue, my approvals.

Each query is served by an index on case_tasks (see engine.workflow.models.CaseTask).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, literal, or_, select
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
    #: Case number (prefix), applicant name (part) or protocol number, e.g. "2026/0001", "Παπα", "17".
    text: str | None = None
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
    service_code: str | None = None
    applicant_name: str | None = None


def my_tasks(session: Session, user: Performer, filters: InboxFilter | None = None) -> list[InboxItem]:
    """Tasks claimed by or assigned to ``user`` (and to the absent person they stand in for)."""
    return _run(session, CaseTask.assignee_id.in_(_assignees(user)), filters)


def department_queue(
    session: Session, user: Performer, filters: InboxFilter | None = None
) -> list[InboxItem]:
    """Unclaimed tasks of the user's department for any of the user's roles."""
    condition = _department_condition(user)
    return [] if condition is None else _run(session, condition, filters)


def approval_queue(session: Session, user: Performer, filters: InboxFilter | None = None) -> list[InboxItem]:
    """For heads: tasks of their department waiting for a head, unclaimed or theirs."""
    condition = _approvals_condition(user)
    return [] if condition is None else _run(session, condition, filters)


def _department_condition(user: Performer) -> Any:
    if user.department_id is None or not user.roles:
        return None
    return and_(
        CaseTask.department_id == user.department_id,
        CaseTask.role.in_(user.roles),
        CaseTask.assignee_id.is_(None),
    )


def _approvals_condition(user: Performer) -> Any:
    if APPROVER_ROLE not in user.roles or user.department_id is None:
        return None
    return and_(
        CaseTask.department_id == user.department_id,
        CaseTask.role == APPROVER_ROLE,
        or_(CaseTask.assignee_id.is_(None), CaseTask.assignee_id.in_(_assignees(user))),
    )


#: Tab counts stop at this many: counting a department's every open task at a million cases
#: costs more than the rest of the page, and "1000+" says as much as "4,873" to someone at work.
COUNT_CAP = 1000
#: With a filter on the cases (service, search) each counted task is joined to its case: the
#: counts stop sooner.
JOINED_COUNT_CAP = 100


def count_cap(filters: InboxFilter | None) -> int:
    """Where the tab counts stop for these filters (a count above it means "more than it")."""
    return JOINED_COUNT_CAP if _needs_case(filters) else COUNT_CAP


def _needs_case(filters: InboxFilter | None) -> bool:
    return bool(filters and (filters.service or (filters.text or "").strip()))


def inbox_counts(
    session: Session, user: Performer, filters: InboxFilter | None = None, cap: int | None = None
) -> dict[str, int]:
    """How many tasks each view holds (``mine``, ``department``, ``approvals``), with the same filters.

    Counting stops at ``cap`` + 1 (:func:`count_cap` unless given): a count above ``cap`` means
    "more than ``cap``" (the pages say "1000+"). Approvals are counted only for heads. One round
    trip: a scalar subquery per view, each reading at most ``cap`` + 1 index entries (joining
    the cases only when a filter looks at them).
    """
    conditions = {
        "mine": CaseTask.assignee_id == user.id,
        "department": _department_condition(user),
        "approvals": _approvals_condition(user),
    }
    needs_case = _needs_case(filters)
    cap = count_cap(filters) if cap is None else cap
    columns = []
    for view, condition in conditions.items():
        if condition is None:
            columns.append(literal(0).label(view))
            continue
        rows = select(literal(1)).select_from(CaseTask)
        if needs_case:
            rows = rows.join(Case, Case.id == CaseTask.case_id)
        limited = _filtered(rows.where(condition), filters).limit(cap + 1).subquery()
        columns.append(select(func.count()).select_from(limited).scalar_subquery().label(view))
    row = session.execute(select(*columns)).one()
    return {view: int(getattr(row, view)) for view in conditions}


def _filtered(query: Any, filters: InboxFilter | None) -> Any:
    filters = filters or InboxFilter()
    if filters.request_type:
        query = query.where(CaseTask.process_id == filters.request_type)
    if filters.service:
        query = query.where(Case.data["service_code"].astext == filters.service)
    if filters.due_before:
        query = query.where(CaseTask.due_at < filters.due_before)
    if filters.overdue:
        query = query.where(CaseTask.due_at < utcnow())
    text = (filters.text or "").strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = [
            Case.number.startswith(text, autoescape=True),
            Case.applicant["name"].astext.ilike(pattern),
            Case.data["protocol_in"]["display"].astext.startswith(text, autoescape=True),
        ]
        if text.isdigit():
            matches.append(Case.data["protocol_in"]["number"].astext == text)
        query = query.where(or_(*matches))
    return query


def _assignees(user: Performer) -> list[uuid.UUID]:
    """The user and, while substituting, the absent person whose tasks they may work."""
    return [user.id] if user.acting_for_id is None else [user.id, user.acting_for_id]


def inbox_query(condition: Any, filters: InboxFilter | None = None) -> Select[Any]:
    """The SELECT behind an inbox (exposed so tests can check the plan)."""
    filters = filters or InboxFilter()
    if filters.sort not in SORTS:
        raise InvalidInput(f"unknown sort '{filters.sort}'; use one of {', '.join(SORTS)}.")
    if not 1 <= filters.limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000.")
    if filters.offset < 0:
        raise InvalidInput("offset must be 0 or more.")
    query = (
        select(
            CaseTask,
            Case.number,
            Case.milestone,
            Case.data["service_code"].astext,
            Case.applicant["name"].astext,
        )
        .join(Case, Case.id == CaseTask.case_id)
        .where(condition)
    )
    ordered: Select[Any] = _filtered(query, filters).order_by(*SORTS[filters.sort], CaseTask.task_id)
    return ordered.limit(filters.limit).offset(filters.offset)  # task_id above: stable pages


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
            service_code=service_code,
            applicant_name=applicant_name,
        )
        for task, number, milestone, service_code, applicant_name in session.execute(
            inbox_query(condition, filters)
        )
    ]
