"""The worker and `polis db start` around a PostgreSQL crash, on a throwaway cluster of their own."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.database import upgrade_database
from core.orm import make_engine, session_scope
from core.pgcluster import PgCluster
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.jobs import start_worker_thread
from engine.workflow.models import AuditEvent
from tests.engine.conftest import make_org
from tests.engine.test_timer_restart import SHORT_SLA

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    root = Path(tempfile.mkdtemp(prefix="polis-restart-"))
    os.chmod(root, 0o755)  # the server runs as postgres when we are root
    pg = PgCluster(root / "pg", durable=False)
    pg.ensure_running()
    try:
        yield pg
    finally:
        pg.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


def _postmaster_pid(pg: PgCluster) -> int:
    return int((pg.data_dir / "postmaster.pid").read_text().splitlines()[0])


def test_the_worker_survives_a_postgresql_restart(cluster: PgCluster) -> None:
    cluster.ensure_database("polis")
    url = cluster.url("polis")
    upgrade_database(url)
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with session_scope(factory) as session:
        org = make_org(session)
        deploy_definition(session, SHORT_SLA, "short_sla.bpmn")
    thread, stop = start_worker_thread(factory, poll_seconds=0.2)
    try:
        time.sleep(1.5)
        os.kill(_postmaster_pid(cluster), signal.SIGKILL)  # PostgreSQL dies under the worker
        time.sleep(2)
        assert thread.is_alive()  # ... which waits for it instead of exiting
        cluster.ensure_running()  # the operator (or systemd) brings it back
        engine.dispose()
        with session_scope(factory) as session:
            case = start_case(session, "short_sla", department_id=org.department.id)
        deadline = time.monotonic() + 60
        fired = 0
        while time.monotonic() < deadline and not fired:
            with Session(engine) as session:
                fired = (
                    session.scalar(
                        select(func.count()).where(
                            AuditEvent.case_id == case.id, AuditEvent.action == "timer_fired"
                        )
                    )
                    or 0
                )
            time.sleep(0.3)
        assert fired == 1  # the timer of a case started after the restart fired: it reconnected
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(30)
        engine.dispose()
    assert not thread.is_alive()


def test_db_start_right_after_a_crash_waits_for_the_server(cluster: PgCluster) -> None:
    for _ in range(3):
        os.kill(_postmaster_pid(cluster), signal.SIGKILL)
        cluster.ensure_running()  # at once, while the old server is still being reaped
        with psycopg.connect(**cluster.libpq_kwargs(), connect_timeout=5) as connection:  # type: ignore[arg-type]
            assert connection.execute("SELECT 1").fetchone() == (1,)
