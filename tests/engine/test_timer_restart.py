"""A timer that comes due while no worker runs fires exactly once when workers come back."""

from __future__ import annotations

import time
from datetime import timedelta

import time_machine
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import session_scope
from engine.commands import complete_task, start_case
from engine.models import AuditEvent, CaseTask, Wakeup
from engine.timers import start_worker_thread
from tests.engine.conftest import Org


def test_timer_due_during_outage_fires_once_after_restart(
    committed_engine: Engine, committed_org: Org
) -> None:
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with session_scope(factory) as session:
        case = start_case(session, "document_approval", department_id=committed_org.department.id)
        prepare = next(iter(case.ready_before))
    with session_scope(factory) as session:
        complete_task(session, prepare, {"title": "x"}, committed_org.clerk)
    with Session(committed_engine) as session:
        due = session.scalars(select(Wakeup.due_at).where(Wakeup.case_id == case.id)).one()

    # A worker runs for a while: the SLA is days away, nothing fires.
    thread, stop = start_worker_thread(factory, poll_seconds=0.05)
    time.sleep(0.3)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()

    # The outage: no worker while the SLA passes. Then two workers start at once.
    with time_machine.travel(due + timedelta(hours=2), tick=True):
        workers = [start_worker_thread(factory, poll_seconds=0.05) for _ in range(2)]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with Session(committed_engine) as session:
                fired = session.scalar(
                    select(func.count()).where(
                        AuditEvent.case_id == case.id, AuditEvent.action == "timer_fired"
                    )
                )
            if fired:
                break
            time.sleep(0.05)
        time.sleep(0.3)  # give a duplicate firing every chance to happen
        for _, stop in workers:
            stop.set()
        for thread, _ in workers:
            thread.join(5)

    with Session(committed_engine) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq)
        ).all()
        assert actions.count("timer_fired") == 1
        tasks = session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).all()
        assert [(t.bpmn_id, t.assignee_id) for t in tasks] == [
            ("Task_SubstituteReview", committed_org.substitute.id)
        ]
        assert session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all() == []
