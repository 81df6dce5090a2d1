"""Background failures end, after their last retry, as one incident; retries repeat no side effect.

A service task's handler (here: the real protocol registration) may succeed and the engine
step after it fail (a script error in the next task). Its result is kept with its writes, so
the retries and the admin's retry of the incident never register a second number. A timer
whose next step fails, and a wakeup whose whole transaction keeps failing (postponed by the
job), end as incidents too instead of retrying every minute for ever.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.clock import utcnow
from core.orm import session_scope
from engine.protocol.models import ProtocolEntry
from engine.protocol.tasks import handle_service_call
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.models import AuditEvent, Case, Incident, ServiceResult, Wakeup
from engine.workflow.runtime import Actor
from engine.workflow.service_tasks import ServiceCall, register_handler, unregister_handler
from engine.workflow.timers import (
    MAX_ATTEMPTS,
    fire_due_wakeups_in,
    open_incidents,
    postpone_wakeup,
    retry_incident,
)
from tests.engine.bpmn_builder import flow, process
from tests.engine.conftest import Org, make_org

PREPARE = (
    '<bpmn:scriptTask id="prepare" name="Prepare" scriptFormat="python"><bpmn:script>'
    "title = 'Απάντηση ' + str(request_no)\n"
    "protocol = {'direction': 'ΕΞ', 'subject_field': 'title', 'recipients': ['Αιτών']}"
    "</bpmn:script></bpmn:scriptTask>"
)
# Fails in the engine step right after the service task: the handler has succeeded by then.
BROKEN = (
    '<bpmn:scriptTask id="broken" name="Broken" scriptFormat="python"><bpmn:script>'
    "ratio = 1 / 0</bpmn:script></bpmn:scriptTask>"
)
REGISTER_THEN_BREAK = process(
    '<bpmn:startEvent id="start"/>'
    + PREPARE
    + '<bpmn:serviceTask id="register" name="Register" camunda:type="external" '
    'camunda:topic="counted_register"/>'
    + BROKEN
    + '<bpmn:endEvent id="end"/>'
    + flow("start", "prepare")
    + flow("prepare", "register")
    + flow("register", "broken")
    + flow("broken", "end"),
    process_id="register_then_break",
)
TIMER_THEN_BREAK = process(
    '<bpmn:startEvent id="start"/>'
    '<bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:timerEventDefinition>'
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>'
    "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    + BROKEN
    + '<bpmn:endEvent id="end"/>'
    + flow("start", "wait")
    + flow("wait", "broken")
    + flow("broken", "end"),
    process_id="timer_then_break",
)


class CountedRegister:
    """The real protocol registration, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, call: ServiceCall) -> dict[str, Any]:
        self.calls += 1
        return handle_service_call(call)


@pytest.fixture
def counted() -> Iterator[CountedRegister]:
    handler = CountedRegister()
    register_handler("counted_register")(handler)
    yield handler
    unregister_handler("counted_register")


def _entries(session: Session, case_id: Any) -> int:
    return session.scalar(select(func.count()).where(ProtocolEntry.case_id == case_id)) or 0


def _incidents(session: Session, case_id: Any) -> list[Incident]:
    return [i for i in open_incidents(session) if i.case_id == case_id]


def _drain_until_incident(session: Session, case_id: Any) -> int:
    """Run the case's wakeups, each time far enough ahead for the backoff; return the tries."""
    tries = 0
    for step in range(1, MAX_ATTEMPTS + 3):
        if _incidents(session, case_id):
            break
        later = utcnow() + timedelta(days=step)
        with time_machine.travel(later, tick=False):  # the engine's clock decides when timers are due
            tries += fire_due_wakeups_in(session, now=later)
    return tries


def test_a_failing_step_after_the_handler_ends_as_one_incident_and_repeats_nothing(
    db_session: Session, counted: CountedRegister
) -> None:
    org: Org = make_org(db_session)
    deploy_definition(db_session, REGISTER_THEN_BREAK, "register_then_break.bpmn")
    case = start_case(
        db_session, "register_then_break", department_id=org.department.id, data={"request_no": 3}
    )

    assert _drain_until_incident(db_session, case.id) == MAX_ATTEMPTS
    [incident] = _incidents(db_session, case.id)
    assert incident.kind == "service" and incident.bpmn_id == "register"
    assert "ZeroDivisionError" in incident.error and "after the handler succeeded" in incident.error
    assert counted.calls == 1  # the handler ran once; the retries reused its kept result
    assert _entries(db_session, case.id) == 1  # one protocol number, not five
    assert db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all() == []
    assert fire_due_wakeups_in(db_session, now=utcnow() + timedelta(days=30)) == 0  # nothing retries for ever

    retry_incident(db_session, incident.id, Actor(None, "admin"))
    assert fire_due_wakeups_in(db_session, now=utcnow() + timedelta(seconds=1)) == 1
    assert counted.calls == 1 and _entries(db_session, case.id) == 1  # the retry repeats no side effect
    kept = db_session.scalars(select(ServiceResult).where(ServiceResult.case_id == case.id)).one()
    assert kept.result["protocol_entry"]["number"] > 0
    row = db_session.get(Case, case.id)
    assert row is not None
    db_session.refresh(row)
    assert row.status == "active"


def test_a_timer_whose_next_step_fails_ends_as_an_incident(db_session: Session) -> None:
    org = make_org(db_session)
    deploy_definition(db_session, TIMER_THEN_BREAK, "timer_then_break.bpmn")
    case = start_case(db_session, "timer_then_break", department_id=org.department.id)

    assert _drain_until_incident(db_session, case.id) == MAX_ATTEMPTS
    [incident] = _incidents(db_session, case.id)
    assert incident.kind == "timer" and incident.bpmn_id == "wait" and "ZeroDivisionError" in incident.error
    actions = db_session.scalars(select(AuditEvent.action).where(AuditEvent.case_id == case.id)).all()
    assert actions.count("incident") == 1 and "timer_fired" not in actions

    retry_incident(db_session, incident.id, Actor(None, "admin"))
    retried = db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).one()
    assert retried.kind == "timer" and retried.attempts == 0


def test_a_wakeup_whose_transaction_keeps_failing_ends_as_an_incident(
    committed_engine: Engine, committed_org: Org
) -> None:
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with session_scope(factory) as session:
        deploy_definition(session, TIMER_THEN_BREAK, "timer_then_break.bpmn")
    with session_scope(factory) as session:
        case = start_case(session, "timer_then_break", department_id=committed_org.department.id)
    with Session(committed_engine) as session:
        wakeup_id = session.scalars(select(Wakeup.id).where(Wakeup.case_id == case.id)).one()

    for _ in range(MAX_ATTEMPTS):  # what the job does when its transaction fails as a whole
        postpone_wakeup(factory, wakeup_id, ConnectionError("server closed the connection"))

    with Session(committed_engine) as session:
        assert session.get(Wakeup, wakeup_id) is None
        [incident] = session.scalars(select(Incident).where(Incident.case_id == case.id)).all()
        assert incident.kind == "timer" and incident.bpmn_id == "wait"
        assert incident.attempts == MAX_ATTEMPTS and "server closed" in incident.error


def test_a_notice_that_fails_for_good_is_an_incident_an_admin_retries(
    committed_engine: Engine, committed_org: Org
) -> None:
    import socket

    from aiosmtpd.controller import Controller

    from engine.notifications.models import Notification
    from engine.notifications.outbox import RetryPolicy, deliver_due, enqueue_notification
    from engine.notifications.senders import SmtpSender
    from tests.engine.test_timer_restart import SHORT_SLA

    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with session_scope(factory) as session:
        deploy_definition(session, SHORT_SLA, "short_sla.bpmn")
    with session_scope(factory) as session:
        case = start_case(session, "short_sla", department_id=committed_org.department.id)
        notice = enqueue_notification(
            session,
            channel="email",
            recipient="eleni@example.gr",
            locale="el",
            template_key="request_received",
            values={
                "applicant_name": "Ελένη",
                "case_number": case.number,
                "service_title": "Βεβαίωση",
                "tracking_url": "http://polis.test/track/x",
                "municipality_name": "Δήμος",
                "tracking_code": "x",
            },
            case_id=case.id,
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens here: every attempt is refused
    policy = RetryPolicy(max_attempts=2, first_delay=timedelta(0))
    for _ in range(2):
        deliver_due(
            factory,
            senders={"email": SmtpSender("127.0.0.1", port, sender="noreply@polis.test", starttls=False)},
            policy=policy,
        )
    with Session(committed_engine) as session:
        [incident] = session.scalars(select(Incident).where(Incident.case_id == case.id)).all()
        assert (incident.kind, incident.task_id, incident.attempts) == ("notification", notice.id, 2)
        assert "Cannot send email" in incident.error

    with session_scope(factory) as session:
        retry_incident(session, incident.id, Actor(None, "admin"))

    class Mailbox:
        def __init__(self) -> None:
            self.messages: list[bytes] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            self.messages.append(envelope.content)
            return "250 OK"

    controller = Controller(Mailbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sender = SmtpSender("127.0.0.1", port, sender="noreply@polis.test", starttls=False)
        report = deliver_due(factory, senders={"email": sender}, policy=policy)
    finally:
        controller.stop()
    assert report.sent == [notice.id]
    with Session(committed_engine) as session:
        row = session.get(Notification, notice.id)
        assert row is not None and row.status == "sent"
        assert (
            session.scalars(select(Incident.resolved_at).where(Incident.id == incident.id)).one() is not None
        )
