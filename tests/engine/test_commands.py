"""Assign, forward, release, cancel; versions; state serialization of dates and money."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from engine.workflow.audit import case_history, verify_audit
from engine.workflow.bpmn.loader import compile_definition
from engine.workflow.commands import (
    assign_task,
    cancel_case,
    claim_task,
    complete_task,
    find_case,
    forward_task,
    release_task,
    start_case,
)
from engine.workflow.definitions import PROCESSES_DIR, deploy_definition
from engine.workflow.errors import TaskConflict, TaskForbidden
from engine.workflow.models import Case, CaseTask, ProcessDefinition, Wakeup
from engine.workflow.serialization import (
    new_workflow,
    spec_from_json,
    spec_to_json,
    state_from_json,
    state_to_json,
)
from tests.engine.conftest import Org


def task_row(session: Session, case_id: object) -> CaseTask:
    session.expire_all()
    return session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)).one()


def test_assign_release_and_forward(db_session: Session, org: Org) -> None:
    case = start_case(db_session, "document_approval", department_id=org.department.id)
    task_id = next(iter(case.ready_before))
    with pytest.raises(TaskForbidden, match="head"):
        assign_task(db_session, task_id, org.clerk2, org.clerk)
    assign_task(db_session, task_id, org.clerk2, org.head)
    assert task_row(db_session, case.id).assignee_id == org.clerk2.id
    with pytest.raises(TaskConflict, match="claimed by Clerk Two"):
        claim_task(db_session, task_id, org.clerk)
    release_task(db_session, task_id, org.clerk2)
    assert task_row(db_session, case.id).assignee_id is None

    forward_task(db_session, task_id, org.other.id, org.head)
    row = task_row(db_session, case.id)
    assert row.department_id == org.other.id and row.assignee_id is None
    case_row = db_session.get(Case, case.id)
    assert case_row is not None and case_row.department_id == org.other.id
    with pytest.raises(TaskForbidden):
        complete_task(db_session, task_id, {"title": "x"}, org.clerk)  # no longer their department
    complete_task(db_session, task_id, {"title": "x"}, org.outsider)
    actions = [e.action for e in case_history(db_session, case.id)]
    assert actions[1:] == ["task_assigned", "task_released", "task_forwarded", "task_completed"]
    assert verify_audit(db_session, case.id) == []


def test_cancel_case_removes_tasks_and_timers(db_session: Session, org: Org) -> None:
    case = start_case(db_session, "document_approval", department_id=org.department.id)
    complete_task(db_session, next(iter(case.ready_before)), {"title": "x"}, org.clerk)
    assert db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all()
    with pytest.raises(TaskForbidden):
        cancel_case(db_session, case.id, "duplicate", org.clerk)
    cancel_case(db_session, case.id, "duplicate request", org.head)
    db_session.expire_all()
    row = find_case(db_session, case.number)
    assert (row.status, row.closed_at is not None) == ("cancelled", True)
    assert db_session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).all() == []
    assert db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all() == []
    assert find_case(db_session, row.tracking_code).id == case.id
    with pytest.raises(TaskConflict, match="already cancelled"):
        cancel_case(db_session, case.id, "again", org.head)


def test_running_cases_keep_their_version(db_session: Session, org: Org) -> None:
    old = start_case(db_session, "document_approval", department_id=org.department.id)
    data = (PROCESSES_DIR / "document_approval.bpmn").read_bytes()
    changed = data.replace(b'name="Prepare document"', b'name="Prepare the document"')
    result = deploy_definition(db_session, changed, "document_approval.bpmn")
    assert result.created and result.version >= 2
    again = deploy_definition(db_session, changed, "document_approval.bpmn")
    assert (again.created, again.version) == (False, result.version)
    new = start_case(db_session, "document_approval", department_id=org.department.id)
    assert task_row(db_session, old.id).title == "Prepare document"
    assert task_row(db_session, new.id).title == "Prepare the document"
    versions = db_session.scalars(
        select(ProcessDefinition.version)
        .join(Case, Case.definition_id == ProcessDefinition.id)
        .where(Case.id.in_([old.id, new.id]))
    ).all()
    assert len(set(versions)) == 2
    complete_task(db_session, next(iter(old.ready_before)), {"title": "x"}, org.clerk)  # old one runs on


def test_state_keeps_dates_money_and_sets_without_the_spec() -> None:
    data = (PROCESSES_DIR / "document_approval.bpmn").read_bytes()
    compiled = compile_definition(data, "document_approval.bpmn", {"Clerk", "Head", "Substitute"})
    spec, subs = spec_from_json(spec_to_json(compiled.spec, compiled.subprocess_specs))
    workflow = new_workflow(spec, subs)
    workflow.do_engine_steps()
    values = {
        "day": dt.date(2026, 3, 25),
        "at": dt.datetime(2026, 3, 25, 9, 30, tzinfo=dt.UTC),
        "fee": decimal.Decimal("12.50"),
        "tags": {"a", "b"},
    }
    workflow.get_next_task(manual=True).data.update(values)  # type: ignore[union-attr]
    state = state_to_json(workflow)
    assert '"subprocess_specs"' not in state and '"task_specs"' not in state  # the spec lives elsewhere
    restored = state_from_json(state, spec, subs)
    task = restored.get_next_task(manual=True)
    assert task is not None
    assert {k: task.data[k] for k in values} == values


def test_case_numbers_follow_the_athens_calendar_year(db_session: Session, org: Org) -> None:
    import time_machine

    # 23:59 on 31 December in Athens is 21:59 UTC; Athens midnight is 22:00 UTC.
    with time_machine.travel(dt.datetime(2026, 12, 31, 21, 59, tzinfo=dt.UTC), tick=False):
        old_year = start_case(db_session, "document_approval", department_id=org.department.id)
    with time_machine.travel(dt.datetime(2026, 12, 31, 22, 0, tzinfo=dt.UTC), tick=False):
        new_year = start_case(db_session, "document_approval", department_id=org.department.id)
    assert old_year.number.startswith("2026/")
    assert new_year.number == "2027/000001"


def test_numbers_taken_at_once_are_consecutive_and_used_by_the_cases(db_session: Session, org: Org) -> None:
    from engine.workflow.commands import next_case_numbers
    from engine.workflow.definitions import latest_definition

    first = start_case(db_session, "document_approval", department_id=org.department.id)
    year = int(first.number.split("/")[0])
    numbers = next_case_numbers(db_session, year, 3)
    definition = latest_definition(db_session, "document_approval")
    started = [
        start_case(
            db_session,
            "document_approval",
            department_id=org.department.id,
            definition=definition,
            number=number,
        )
        for number in numbers
    ]
    after = start_case(db_session, "document_approval", department_id=org.department.id)
    sequence = [int(case.number.split("/")[1]) for case in [first, *started, after]]
    assert sequence == list(range(sequence[0], sequence[0] + 5))  # no gap, no repeat
    assert next_case_numbers(db_session, year, 0) == []
    with pytest.raises(InvalidInput, match="definition"):
        start_case(db_session, "general_request", department_id=org.department.id, definition=definition)
