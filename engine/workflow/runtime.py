"""Load a locked case, advance its workflow, save everything it changed in one go.

Per command the database sees one locked read of the case (with its state and, for task
commands, the task's index row) and one write statement that updates the case under its
version check and carries the task-index delta and the audit rows (engine.workflow.case_store);
the wakeup delta (timers, service tasks) adds statements only when it is not empty.
Commands live in engine.workflow.commands; this module is the shared machinery.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, delete, insert, update
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.workflow import cache as workflow_cache
from engine.workflow.audit import audit_values
from engine.workflow.bpmn.milestones import reached_milestones
from engine.workflow.case_store import (
    FETCH_STATE,
    LOCK_CASE,
    LOCK_TASK,
    defer_wakeup_jobs,
    fetch_one,
    write_case,
)
from engine.workflow.definitions import LoadedDefinition, load_definition
from engine.workflow.directory import directory
from engine.workflow.errors import CaseNotFound
from engine.workflow.lanes import lane_rules
from engine.workflow.mailbox import deliver_kept_messages, event_definitions, message_definitions
from engine.workflow.models import CaseTask, Wakeup
from engine.workflow.serialization import state_from_json, state_to_json

TASKS = cast(Table, CaseTask.__table__)
WAKEUPS = cast(Table, Wakeup.__table__)
HUMAN_KINDS = ("userTask", "manualTask")
SYSTEM_ACTOR = "system"


@dataclass
class Actor:
    """Who acts: a user (id + label) or the system (timers, jobs)."""

    id: uuid.UUID | None
    label: str

    @classmethod
    def system(cls) -> Actor:
        """The engine itself (timers, service tasks, messages)."""
        return cls(None, SYSTEM_ACTOR)


@dataclass
class OpenCase:
    """A case locked for this transaction, with its restored workflow."""

    id: uuid.UUID
    number: str
    process_id: str
    status: str
    department_id: uuid.UUID | None
    version: int
    audit_seq: int
    audit_hash: str
    milestone: str
    data: dict[str, Any]
    definition: LoadedDefinition
    workflow: BpmnWorkflow
    ready_before: dict[uuid.UUID, SpiffTask] = field(default_factory=dict)
    waits_before: dict[tuple[uuid.UUID, str], datetime] = field(default_factory=dict)
    events: list[tuple[str, uuid.UUID | None, dict[str, Any]]] = field(default_factory=list)
    #: Columns of a case row not yet inserted (set by start_case); None once stored.
    new_columns: dict[str, Any] | None = None

    def record(self, action: str, task_id: uuid.UUID | None = None, **details: Any) -> None:
        """Queue an audit event; written by :func:`save_case`."""
        self.events.append((action, task_id, details))


def lock_case(session: Session, case_id: uuid.UUID) -> OpenCase:
    """SELECT … FOR UPDATE the case and restore its workflow."""
    token = workflow_cache.token_for_case(case_id)
    row = fetch_one(session, LOCK_CASE, {"case_id": case_id, "token": token})
    if row is None:
        raise CaseNotFound(f"case {case_id} does not exist; check the link or the case number.")
    return _open(session, row)


def lock_task(session: Session, task_id: uuid.UUID) -> tuple[OpenCase, Any] | None:
    """Lock an open task's index row and its case (fresh after any wait); None if not open."""
    token = workflow_cache.token_for_task(task_id)
    row = fetch_one(session, LOCK_TASK, {"task_id": task_id, "token": token})
    return None if row is None else (_open(session, row), row)


def _open(session: Session, row: Any) -> OpenCase:
    definition = load_definition(session, row.definition_id, row.content_hash)
    workflow = workflow_cache.take(row.id, row.state_token)
    if workflow is None or row.state is not None:
        state = row.state
        if state is None:  # the cached workflow was taken between our look and the read
            state = fetch_one(session, FETCH_STATE, {"case_id": row.id}).state
        workflow = state_from_json(state, definition.spec, definition.subprocess_specs)
    case = OpenCase(
        id=row.id,
        number=row.number,
        process_id=row.process_id,
        status=row.status,
        department_id=row.department_id,
        version=row.version,
        audit_seq=row.audit_seq,
        audit_hash=row.audit_hash,
        milestone=row.milestone,
        data=dict(row.data),
        definition=definition,
        workflow=workflow,
    )
    snapshot(case)
    return case


def snapshot(case: OpenCase) -> None:
    """Remember the ready human tasks and pending wakeups, to write only the delta later."""
    case.ready_before = {t.id: t for t in human_tasks(case)}
    case.waits_before = pending_wakeups(case)


def ready_waiting_tasks(case: OpenCase) -> list[SpiffTask]:
    """READY tasks that wait for someone: human tasks and service tasks (the job queue), in one pass.

    Iterates the task dictionaries directly: SpiffWorkflow's filtered tree walk costs
    more than everything else a command does in Python.
    """
    workflows = [case.workflow, *case.workflow.subprocesses.values()]
    return [
        task
        for workflow in workflows
        for task in workflow.tasks.values()
        if task.state == TaskState.READY and task.task_spec.manual
    ]


def human_tasks(case: OpenCase) -> list[SpiffTask]:
    """Ready tasks that people do (user and manual tasks)."""
    tasks = case.definition.tasks
    return [
        t
        for t in ready_waiting_tasks(case)
        if (info := tasks.get(t.task_spec.bpmn_id)) is not None and info.kind in HUMAN_KINDS
    ]


def pending_wakeups(case: OpenCase) -> dict[tuple[uuid.UUID, str], datetime]:
    """Timers waiting to fire and service tasks waiting to run, with their due times."""
    wakeups: dict[tuple[uuid.UUID, str], datetime] = {}
    for task in case.workflow.event_manager.tasks.values():
        due = timer_due(task)
        if due is not None:
            wakeups[(task.id, "timer")] = due
    infos = case.definition.tasks
    for task in ready_waiting_tasks(case):
        info = infos.get(task.task_spec.bpmn_id)
        if info is not None and info.kind == "serviceTask":
            wakeups[(task.id, "service")] = utcnow()
    return wakeups


def timer_due(task: SpiffTask) -> datetime | None:
    """When a waiting timer event fires (None for other events).

    An event-based gateway keeps its (one) timer's value on the gateway task itself.
    """
    if not any(isinstance(d, TimerEventDefinition) for d in event_definitions(task)):
        return None
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):  # cycle timers keep {"cycles", "next", "duration"}
        value = value.get("next")
    if not value:
        return None
    return cast(datetime, TimerEventDefinition.get_datetime(str(value)))


def _waits_for_messages(case: OpenCase) -> bool:
    return any(message_definitions(t) for t in case.workflow.event_manager.tasks.values())


def _milestone(case: OpenCase, ready: Any, completed: bool) -> str:
    """The step a citizen sees: the open human tasks, or the end event the case reached."""
    if completed:
        ends = [
            t
            for t in case.workflow.get_tasks(state=TaskState.COMPLETED)
            if isinstance(t.task_spec, EndEvent) and t.task_spec.bpmn_name
        ]
        if ends:
            return str(max(ends, key=lambda t: t.last_state_change).task_spec.bpmn_name)
        return case.milestone
    titles = sorted({case.definition.tasks[t.task_spec.bpmn_id].title for t in ready})
    return ", ".join(titles) if titles else case.milestone


def _task_due(task: SpiffTask) -> datetime | None:
    """A human task's due date: the earliest timer boundary event attached to it (its SLA)."""
    parent = task.parent
    if parent is None:
        return None
    dues = [d for sibling in parent.children if sibling is not task and (d := timer_due(sibling)) is not None]
    return min(dues) if dues else None


def save_case(session: Session, case: OpenCase, actor: Actor) -> None:
    """Write the case's new state, the task-index and wakeup deltas and its audit events."""
    now = utcnow()
    workflow = case.workflow
    if case.new_columns is None and _waits_for_messages(case):
        deliver_kept_messages(session, case.id, workflow, case.record)
    ready_after = {t.id: t for t in human_tasks(case)}
    waits_after = pending_wakeups(case)
    completed = workflow.is_completed()
    case.milestone = _milestone(case, ready_after.values(), completed)
    if completed and case.status == "active":
        case.status = "completed"
        case.record("case_completed", None, milestone=case.milestone)
    for code in reached_milestones(workflow, case.definition.milestones):  # what the applicant sees
        case.record("milestone", None, code=code)
    audit_rows = []
    for action, task_id, details in case.events:
        row = audit_values(
            case.id,
            case.audit_seq + 1,
            case.audit_hash,
            now,
            actor.id,
            actor.label,
            action,
            task_id,
            details,
        )
        case.audit_seq, case.audit_hash = row["seq"], row["hash"]
        audit_rows.append(row)
    token = uuid.uuid4()
    values: dict[str, Any] = {
        "state": state_to_json(workflow),
        "state_token": token,
        "status": case.status,
        "milestone": case.milestone,
        "department_id": case.department_id,
        "data": case.data,
        "now": now,
        "closed_at": now if case.status != "active" else None,
        "audit_seq": case.audit_seq,
        "audit_hash": case.audit_hash,
    }
    new_columns = None
    if case.new_columns is not None:
        new_columns = {**case.new_columns, "definition_id": case.definition.id, "process_id": case.process_id}
    write_case(
        session,
        case_id=case.id,
        number=case.number,
        version=case.version,
        values=values,
        new_columns=new_columns,
        gone=[tid for tid in case.ready_before if tid not in ready_after],
        added=[
            _index_row(session, case, t, now)
            for tid, t in ready_after.items()
            if tid not in case.ready_before
        ],
        audit=audit_rows,
    )
    case.new_columns = None
    case.version += 1
    _save_wakeups(session, case, waits_after)
    case.events.clear()
    snapshot(case)
    workflow_cache.keep(case.id, token, workflow, case.ready_before)


def _index_row(session: Session, case: OpenCase, task: SpiffTask, now: datetime) -> dict[str, Any]:
    info = case.definition.tasks[task.task_spec.bpmn_id]
    rule = lane_rules().get(info.lane or "")
    role = rule.role if rule else ""
    assignee = _lane_assignee(session, case.department_id, rule.assignee if rule else None, role)
    return {
        "task_id": task.id,
        "case_id": case.id,
        "process_id": case.process_id,
        "bpmn_id": info.bpmn_id,
        "title": info.title,
        "lane": info.lane or "",
        "department_id": case.department_id,
        "role": role,
        "assignee_id": assignee,
        "priority": info.priority,
        "form_key": info.form_key,
        "created_at": now,
        "due_at": _task_due(task),
    }


def _lane_assignee(
    session: Session, department_id: uuid.UUID | None, rule: str | None, role: str
) -> uuid.UUID | None:
    """The head or substitute a lane pre-assigns its tasks to, if that person may do them.

    Four eyes: a substitute who lacks the lane's role (e.g. a clerk named substitute head)
    never receives the task, nor does a disabled account; the task then waits unassigned in
    the queue of the department's holders of the role.
    """
    if rule is None or department_id is None:
        return None
    return directory().lane_assignee(session, department_id, rule, role)


def _save_wakeups(
    session: Session, case: OpenCase, waits_after: dict[tuple[uuid.UUID, str], datetime]
) -> None:
    gone = [key for key in case.waits_before if key not in waits_after]
    for task_id, kind in gone:
        session.execute(
            delete(WAKEUPS).where(
                WAKEUPS.c.case_id == case.id, WAKEUPS.c.task_id == task_id, WAKEUPS.c.kind == kind
            )
        )
    added = [
        {"case_id": case.id, "task_id": task_id, "kind": kind, "due_at": due, "attempts": 0}
        for (task_id, kind), due in waits_after.items()
        if (task_id, kind) not in case.waits_before
    ]
    jobs: list[tuple[int, datetime, str]] = []
    if added:
        rows = session.execute(
            insert(WAKEUPS).returning(WAKEUPS.c.id, WAKEUPS.c.due_at, WAKEUPS.c.kind), added
        )
        jobs.extend((row.id, row.due_at, row.kind) for row in rows)
    for (task_id, kind), due in waits_after.items():
        before = case.waits_before.get((task_id, kind))
        if kind == "timer" and before is not None and before != due:  # a cycle timer moved on
            moved = session.execute(
                update(WAKEUPS)
                .where(WAKEUPS.c.case_id == case.id, WAKEUPS.c.task_id == task_id, WAKEUPS.c.kind == kind)
                .values(due_at=due, attempts=0)
                .returning(WAKEUPS.c.id, WAKEUPS.c.due_at)
            )
            jobs.extend((row.id, row.due_at, kind) for row in moved)
    defer_wakeup_jobs(session, jobs)
