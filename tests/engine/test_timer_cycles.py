"""A timer start event with a cycle (R3/PT1H) fires three times, each firing once."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import case_history
from engine.commands import start_case
from engine.definitions import deploy_definition
from engine.models import Case, Wakeup
from engine.runtime import utcnow
from engine.timers import fire_due_wakeups_in
from tests.engine.bpmn_builder import flow, process
from tests.engine.conftest import Org

CYCLE = process(
    '<bpmn:startEvent id="Every_hour" name="Every hour"><bpmn:timerEventDefinition>'
    '<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">R3/PT1H</bpmn:timeCycle>'
    "</bpmn:timerEventDefinition></bpmn:startEvent>"
    '<bpmn:scriptTask id="Count" name="Count"><bpmn:script>checked = True'
    "</bpmn:script></bpmn:scriptTask>"
    '<bpmn:endEvent id="Done" name="Done"/>' + flow("Every_hour", "Count") + flow("Count", "Done"),
    process_id="hourly_check",
)


def test_cycle_timer_fires_each_cycle_once(db_session: Session, org: Org) -> None:
    deploy_definition(db_session, CYCLE, "hourly_check.bpmn")
    case = start_case(db_session, "hourly_check", department_id=org.department.id)
    now = utcnow()
    due = db_session.scalars(select(Wakeup.due_at).where(Wakeup.case_id == case.id)).one()
    assert timedelta(minutes=59) < due - now < timedelta(minutes=61)
    assert fire_due_wakeups_in(db_session, now=now) == 0
    for hour in (1, 2, 3):
        with time_machine.travel(now + timedelta(hours=hour, minutes=1), tick=False):
            assert fire_due_wakeups_in(db_session) == 1, hour
            assert fire_due_wakeups_in(db_session) == 0, hour
    row = db_session.get(Case, case.id)
    assert row is not None
    db_session.refresh(row)
    assert [e.action for e in case_history(db_session, case.id)].count("timer_fired") == 3
    assert db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all() == []
    assert row.status == "completed"
