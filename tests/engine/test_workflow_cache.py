"""The in-process workflow cache never hands out a workflow the database does not hold."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from core.orm import make_engine, session_scope
from engine.workflow import cache as workflow_cache
from engine.workflow.audit import verify_audit
from engine.workflow.commands import complete_task, start_case
from engine.workflow.models import AuditEvent, Case, CaseTask
from tests.engine.conftest import Org


def _open_task(factory: sessionmaker, case_id: uuid.UUID) -> tuple[uuid.UUID, str]:
    with session_scope(factory) as session:
        row = session.execute(
            select(CaseTask.task_id, CaseTask.bpmn_id).where(CaseTask.case_id == case_id)
        ).one()
        return row.task_id, row.bpmn_id


def _start(factory: sessionmaker, org: Org) -> uuid.UUID:
    with session_scope(factory) as session:
        return start_case(session, "document_approval", department_id=org.department.id).id


def test_a_rolled_back_command_leaves_no_cached_workflow_behind(
    committed_engine: Engine, committed_org: Org
) -> None:
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    case_id = _start(factory, committed_org)
    task_id, _ = _open_task(factory, case_id)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), session_scope(factory) as session:
        complete_task(session, task_id, {"title": "first try"}, committed_org.clerk)
        assert workflow_cache.token_for_case(case_id) is not None  # saved, then...
        raise Boom  # ...rolled back: the cached workflow has moved on, the database has not

    with session_scope(factory) as session:
        complete_task(session, task_id, {"title": "second try"}, committed_org.clerk)
    next_task, bpmn_id = _open_task(factory, case_id)
    assert next_task != task_id and bpmn_id != "Prepare"
    with session_scope(factory) as session:
        completions = session.scalar(
            select(func.count()).where(AuditEvent.case_id == case_id, AuditEvent.action == "task_completed")
        )
        assert completions == 1
        assert verify_audit(session, case_id) == []


def test_a_state_written_by_another_process_is_restored_from_the_database(
    committed_engine: Engine, committed_org: Org
) -> None:
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    case_id = _start(factory, committed_org)
    task_id, _ = _open_task(factory, case_id)
    stale_token = workflow_cache.token_for_case(case_id)
    stale = workflow_cache.take(case_id, stale_token)
    assert stale is not None

    # "Another process" (nothing cached here) completes the task...
    with session_scope(factory) as session:
        complete_task(session, task_id, {"title": "elsewhere"}, committed_org.clerk)
    # ...while this process still remembers the workflow as it was before.
    workflow_cache.keep(case_id, stale_token, stale, [task_id])  # type: ignore[arg-type]
    approve_id, bpmn_id = _open_task(factory, case_id)
    with session_scope(factory) as session:
        token = session.scalar(select(Case.state_token).where(Case.id == case_id))
        case = complete_task(session, approve_id, {"decision": "approve"}, committed_org.head)
    assert token != stale_token
    assert approve_id in case.workflow.tasks  # the fresh state, not the stale one
    assert bpmn_id != "Prepare"


def test_a_connection_the_server_closed_is_replaced_at_checkout(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url, pool_size=1, max_overflow=0)
    # Autocommit: a transaction reads pg_stat_activity once and keeps that snapshot to its end,
    # so polling it inside one transaction never sees the backend go.
    killer = make_engine(fresh_db_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
        with killer.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            # pg_terminate_backend only signals: wait until the backend has really gone (and
            # so has closed its socket), or the checkout below may come first on a busy machine.
            for _ in range(200):
                gone = not conn.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                )
                if gone:
                    break
                time.sleep(0.05)
            assert gone, "the terminated backend did not exit within 10 s"
        with engine.connect() as conn:  # no error: the closed connection was swapped
            assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        killer.dispose()
        engine.dispose()
