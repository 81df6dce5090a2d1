"""A job held by a worker killed with SIGKILL is retried (procrastinate's stalled-job recovery).

Without it the job stays ``doing`` for ever and its wakeup runs again only through the
minute sweep, more than a minute later.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.orm import session_scope
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.jobs import STALLED_TASK, build_app, retry_stalled, start_worker_thread
from engine.workflow.models import Case
from engine.workflow.service_tasks import ServiceCall, register_handler, unregister_handler
from tests.engine.bpmn_builder import flow, process
from tests.engine.conftest import Org
from tests.reliability.stalled_worker import HANDLER

ROOT = Path(__file__).resolve().parents[2]
HANGING = process(
    '<bpmn:startEvent id="start"/>'
    f'<bpmn:serviceTask id="work" name="Work" camunda:type="external" camunda:topic="{HANDLER}"/>'
    '<bpmn:endEvent id="end"/>' + flow("start", "work") + flow("work", "end"),
    process_id="hanging",
)

pytestmark = pytest.mark.slow


def _job_status(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT status FROM procrastinate_jobs WHERE task_name = 'engine.run_wakeup' ORDER BY id")
        )
        return [row[0] for row in rows]


def test_a_job_held_by_a_killed_worker_is_retried(committed_engine: Engine, committed_org: Org) -> None:
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with session_scope(factory) as session:
        deploy_definition(session, HANGING, "hanging.bpmn")
    with session_scope(factory) as session:
        case = start_case(session, "hanging", department_id=committed_org.department.id)

    url = committed_engine.url.render_as_string(hide_password=False)
    doomed = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.stalled_worker", url],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "doing" not in _job_status(committed_engine):
            time.sleep(0.1)
        assert _job_status(committed_engine) == ["doing"]
    finally:
        doomed.kill()  # SIGKILL: no chance to give the job back
        doomed.wait(10)
    time.sleep(3)
    assert _job_status(committed_engine) == ["doing"]  # held for ever by a dead worker

    app = build_app(factory)
    assert STALLED_TASK in {p.task.name for p in app.periodic_registry.periodic_tasks.values()}

    async def recover() -> int:
        async with app.open_async():
            return await retry_stalled(app, seconds_since_heartbeat=2)

    assert asyncio.run(recover()) >= 1  # the wakeup (and any periodic sweep the dead worker held)
    assert _job_status(committed_engine) == ["todo"]

    def quick(call: ServiceCall) -> dict[str, Any]:
        return {"done": True}

    register_handler(HANDLER)(quick)
    thread, stop = start_worker_thread(factory, poll_seconds=0.2)
    try:
        deadline = time.monotonic() + 20
        status = "active"
        while time.monotonic() < deadline and status != "completed":
            with Session(committed_engine) as session:
                status = session.scalar(select(Case.status).where(Case.id == case.id)) or ""
            time.sleep(0.2)
        assert status == "completed"  # in seconds, not after the sweep's minute
    finally:
        stop.set()
        thread.join(30)
        unregister_handler(HANDLER)
