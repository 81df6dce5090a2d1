"""A mail server that accepts connections and never answers delays no timer and no seal.

Real procrastinate workers (threads) against a committed database, a real black-holed
SMTP server on loopback (it accepts TCP and never says a word, so every send waits for
the client's 15 s timeout). Notices wait on their own queue: the due timer and the
service task (standing in for sealing) run on theirs at once.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.orm import session_scope
from core.settings import Settings
from engine.notifications.models import Notification
from engine.notifications.outbox import enqueue_notification
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.jobs import start_worker_thread
from engine.workflow.models import AuditEvent, Case
from engine.workflow.service_tasks import ServiceCall, register_handler, unregister_handler
from tests.engine.bpmn_builder import flow, process
from tests.engine.conftest import Org
from tests.engine.test_timer_restart import SHORT_SLA

SEAL = process(
    '<bpmn:startEvent id="start"/>'
    '<bpmn:serviceTask id="seal" name="Seal" camunda:type="external" camunda:topic="stand_in_seal"/>'
    '<bpmn:endEvent id="end"/>' + flow("start", "seal") + flow("seal", "end"),
    process_id="stand_in_seal",
)


class BlackHole:
    """A TCP server on loopback that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.server.settimeout(0.2)
        while not self.closed.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.closed.set()
        self.thread.join(5)
        for connection in self.held:
            connection.close()
        self.server.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


@pytest.fixture
def sealed_at() -> Iterator[list[float]]:
    times: list[float] = []

    def stand_in(call: ServiceCall) -> dict[str, Any]:
        times.append(time.monotonic())
        return {"sealed": True}

    register_handler("stand_in_seal")(stand_in)
    yield times
    unregister_handler("stand_in_seal")


def _timer_fired(engine: Engine, case_id: Any) -> bool:
    with Session(engine) as session:
        count = session.scalar(
            select(func.count()).where(AuditEvent.case_id == case_id, AuditEvent.action == "timer_fired")
        )
        return bool(count)


def test_a_black_holed_smtp_server_delays_no_timer_and_no_seal(
    committed_engine: Engine,
    committed_org: Org,
    black_hole: BlackHole,
    sealed_at: list[float],
    tmp_path: Path,
) -> None:
    settings = Settings(
        env="test",
        var_dir=tmp_path / "var",
        secret_key="test-secret-key-test-secret-key",
        smtp_host="127.0.0.1",
        smtp_port=black_hole.port,
        smtp_starttls=False,
    )
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with session_scope(factory) as session:
        for number in range(6):  # 6 × 15 s: a queue blocked by them would hold everything 90 s
            enqueue_notification(
                session,
                channel="email",
                recipient=f"citizen{number}@example.gr",
                locale="el",
                template_key="request_received",
                values={
                    "applicant_name": "Μαρία",
                    "case_number": f"2026/{number}",
                    "service_title": "Βεβαίωση",
                    "tracking_url": "http://polis.test/track/x",
                    "municipality_name": "Δήμος",
                    "tracking_code": "x",
                },
            )
        deploy_definition(session, SHORT_SLA, "short_sla.bpmn")
        deploy_definition(session, SEAL, "stand_in_seal.bpmn")
    with session_scope(factory) as session:
        timer_case = start_case(session, "short_sla", department_id=committed_org.department.id)
    timer_due = time.monotonic() + 2

    thread, stop = start_worker_thread(factory, poll_seconds=0.2, settings=settings)
    try:
        time.sleep(1)  # the delivery job is taken first and hangs on the black hole
        with session_scope(factory) as session:
            seal_case = start_case(session, "stand_in_seal", department_id=committed_org.department.id)
        seal_queued = time.monotonic()
        deadline = time.monotonic() + 30
        fired_at = None
        while time.monotonic() < deadline and (fired_at is None or not sealed_at):
            if fired_at is None and _timer_fired(committed_engine, timer_case.id):
                fired_at = time.monotonic()
            time.sleep(0.1)
        assert fired_at is not None, "the due timer did not fire"
        assert sealed_at, "the service task did not run"
        timer_delay, seal_delay = fired_at - timer_due, sealed_at[0] - seal_queued
        with Session(committed_engine) as session:
            stuck = session.scalar(select(func.count()).where(Notification.status == "queued"))
            seal_row = session.get(Case, seal_case.id)
            assert seal_row is not None and seal_row.status == "completed"
        assert black_hole.held, "the worker never reached the mail server"
        assert stuck and stuck >= 5  # the notices are still stuck on the black hole ...
        assert timer_delay < 5 and seal_delay < 5, (timer_delay, seal_delay)  # ... and nothing else is
    finally:
        black_hole.close()  # the hanging sends fail at once; the worker can stop
        stop.set()
        thread.join(60)
    assert not thread.is_alive()


def test_a_job_over_its_time_limit_frees_its_slot(committed_engine: Engine, committed_org: Org) -> None:
    from engine.workflow.case_store import SERVICE_QUEUE, TIMER_QUEUE
    from engine.workflow.jobs import QueueGroup

    done: dict[str, float] = {}

    def slow(call: ServiceCall) -> dict[str, Any]:
        time.sleep(4)  # a TSA that answers only after its own timeout
        done["slow"] = time.monotonic()
        return {}

    def quick(call: ServiceCall) -> dict[str, Any]:
        done["quick"] = time.monotonic()
        return {}

    register_handler("slow_seal")(slow)
    register_handler("quick_seal")(quick)
    try:
        factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
        with session_scope(factory) as session:
            for topic in ("slow_seal", "quick_seal"):
                deploy_definition(
                    session,
                    process(
                        '<bpmn:startEvent id="start"/>'
                        '<bpmn:serviceTask id="seal" name="Seal" camunda:type="external" '
                        f'camunda:topic="{topic}"/>'
                        '<bpmn:endEvent id="end"/>' + flow("start", "seal") + flow("seal", "end"),
                        process_id=topic,
                    ),
                    f"{topic}.bpmn",
                )
        with session_scope(factory) as session:
            slow_case = start_case(session, "slow_seal", department_id=committed_org.department.id)
        with session_scope(factory) as session:
            start_case(session, "quick_seal", department_id=committed_org.department.id)
        began = time.monotonic()
        groups = (
            QueueGroup("timers", (TIMER_QUEUE,), 1, 60.0),
            QueueGroup("services", (SERVICE_QUEUE,), concurrency=1, job_timeout_seconds=1.0),
        )
        thread, stop = start_worker_thread(factory, poll_seconds=0.1, groups=groups)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(done) < 2:
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(30)
        assert done["quick"] - began < 3.5 < done["slow"] - began  # the quick one did not wait 4 s
        with Session(committed_engine) as session:
            row = session.get(Case, slow_case.id)
            assert row is not None and row.status == "completed"  # the slow one still finished its step
    finally:
        unregister_handler("slow_seal")
        unregister_handler("quick_seal")
