"""Inbox queries: who sees which task, filters, sorting, and that indexes serve them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import InvalidInput
from engine.workflow.commands import claim_task, complete_task, start_case
from engine.workflow.models import CaseTask
from engine.workflow.task_index import InboxFilter, approval_queue, department_queue, inbox_query, my_tasks
from tests.engine.conftest import Org


def test_queues(db_session: Session, org: Org) -> None:
    first = start_case(db_session, "document_approval", department_id=org.department.id)
    second = start_case(db_session, "document_approval", department_id=org.department.id)
    first_task, second_task = next(iter(first.ready_before)), next(iter(second.ready_before))

    assert {i.task_id for i in department_queue(db_session, org.clerk)} >= {first_task, second_task}
    assert department_queue(db_session, org.outsider) == []
    claim_task(db_session, first_task, org.clerk)
    assert [i.task_id for i in my_tasks(db_session, org.clerk)] == [first_task]
    assert first_task not in {i.task_id for i in department_queue(db_session, org.clerk2)}

    complete_task(db_session, first_task, {"title": "x"}, org.clerk)
    approvals = approval_queue(db_session, org.head)
    assert [(i.case_number, i.title) for i in approvals] == [(first.number, "Review document")]
    assert approvals[0].due_at is not None and not approvals[0].overdue
    assert approval_queue(db_session, org.clerk) == []

    later = utcnow() + timedelta(days=4)
    assert approval_queue(db_session, org.head, InboxFilter(due_before=later)) != []
    assert approval_queue(db_session, org.head, InboxFilter(due_before=utcnow())) == []
    assert approval_queue(db_session, org.head, InboxFilter(overdue=True)) == []
    assert approval_queue(db_session, org.head, InboxFilter(request_type="other")) == []
    sorted_queue = department_queue(db_session, org.clerk, InboxFilter(sort="newest"))
    assert [i.created_at for i in sorted_queue] == sorted((i.created_at for i in sorted_queue), reverse=True)
    with pytest.raises(InvalidInput, match="unknown sort"):
        department_queue(db_session, org.clerk, InboxFilter(sort="random"))


@pytest.mark.parametrize(
    ("condition", "index"),
    [
        (lambda o: CaseTask.assignee_id == o.clerk.id, "ix_case_tasks_assignee_due"),
        (
            lambda o: (CaseTask.department_id == o.department.id) & (CaseTask.role == "clerk"),
            "ix_case_tasks_department_role_due",
        ),
    ],
)
def test_inbox_queries_use_indexes(db_session: Session, org: Org, condition: object, index: str) -> None:
    query = inbox_query(condition(org))  # type: ignore[operator]
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    db_session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(row[0] for row in db_session.execute(text("EXPLAIN " + sql)))
    assert index in plan, plan
