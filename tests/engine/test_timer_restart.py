"""A timer that comes due while no worker runs fires exactly once when workers come back.

Runs the real job queue (procrastinate workers in threads) against a committed database;
the timer is two seconds long so the test waits for real time, not a mocked clock (the
queue compares due times with the database's clock).
"""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.orm import session_scope
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.jobs import start_worker_thread
from engine.workflow.models import AuditEvent, CaseTask, Wakeup
from tests.engine.bpmn_builder import flow, process
from tests.engine.conftest import Org

SHORT_SLA = process(
    '<bpmn:startEvent id="StartEvent_1"/>'
    '<bpmn:userTask id="Work" name="Work"/>'
    '<bpmn:boundaryEvent id="Sla" name="SLA" attachedToRef="Work"><bpmn:timerEventDefinition>'
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT2S</bpmn:timeDuration>'
    "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
    '<bpmn:userTask id="Escalated" name="Escalated"/>'
    '<bpmn:endEvent id="Done"/><bpmn:endEvent id="Late"/>'
    + flow("StartEvent_1", "Work")
    + flow("Work", "Done")
    + flow("Sla", "Escalated")
    + flow("Escalated", "Late"),
    lanes={"Clerk": ["StartEvent_1", "Work", "Done"], "Head": ["Sla", "Escalated", "Late"]},
    process_id="short_sla",
)


def fired(engine: Engine, case_id: object) -> int:
    with Session(engine) as session:
        return (
            session.scalar(
                select(func.count()).where(AuditEvent.case_id == case_id, AuditEvent.action == "timer_fired")
            )
            or 0
        )


def test_timer_due_during_outage_fires_once_after_restart(
    committed_engine: Engine, committed_org: Org
) -> None:
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with session_scope(factory) as session:
        deploy_definition(session, SHORT_SLA, "short_sla.bpmn")
    with session_scope(factory) as session:
        case = start_case(session, "short_sla", department_id=committed_org.department.id)

    # A worker runs briefly: the timer is not due yet, nothing fires.
    thread, stop = start_worker_thread(factory, poll_seconds=0.1)
    time.sleep(0.5)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert fired(committed_engine, case.id) == 0

    time.sleep(2.5)  # the outage: the SLA passes while no worker runs

    workers = [start_worker_thread(factory, poll_seconds=0.1) for _ in range(2)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not fired(committed_engine, case.id):
        time.sleep(0.1)
    time.sleep(0.5)  # give a duplicate firing every chance to happen
    for _, stop in workers:
        stop.set()
    for thread, _ in workers:
        thread.join(10)
        assert not thread.is_alive()

    assert fired(committed_engine, case.id) == 1
    with Session(committed_engine) as session:
        tasks = session.scalars(select(CaseTask.bpmn_id).where(CaseTask.case_id == case.id)).all()
        assert tasks == ["Escalated"]
        assert session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all() == []
