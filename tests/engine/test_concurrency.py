"""Sixteen people completing the same task at once: one wins, fifteen get a clear conflict."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.orm import session_scope
from engine.people.models import User
from engine.workflow.audit import verify_audit
from engine.workflow.commands import complete_task, start_case
from engine.workflow.errors import TaskConflict
from engine.workflow.models import AuditEvent, Case, CaseTask
from tests.engine.conftest import Org

THREADS = 16


def test_sixteen_threads_complete_the_same_task(committed_engine: Engine, committed_org: Org) -> None:
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with session_scope(factory) as session:
        case_id = start_case(session, "document_approval", department_id=committed_org.department.id).id
    with session_scope(factory) as session:
        task_id = session.scalar(select(CaseTask.task_id).where(CaseTask.case_id == case_id))
        clerks = [session.get(User, committed_org.clerk.id), session.get(User, committed_org.clerk2.id)]
    assert task_id is not None

    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        user = clerks[index % 2]
        assert user is not None
        barrier.wait()
        try:
            with session_scope(factory) as session:
                complete_task(session, task_id, {"title": f"attempt {index}"}, user)
            result = "ok"
        except TaskConflict as exc:
            result = f"conflict: {exc}"
        except Exception as exc:
            result = f"error: {type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert outcomes.count("ok") == 1, outcomes
    conflicts = [o for o in outcomes if o.startswith("conflict")]
    assert len(conflicts) == THREADS - 1, outcomes
    assert all("already completed by Clerk" in o for o in conflicts), conflicts

    with Session(committed_engine) as session:
        completions = session.scalar(
            select(func.count()).where(AuditEvent.case_id == case_id, AuditEvent.action == "task_completed")
        )
        assert completions == 1
        tasks = session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)).all()
        assert [t.bpmn_id for t in tasks] == ["Task_Review"]  # exactly one transition
        case = session.get(Case, case_id)
        assert case is not None and case.version == 2
        assert verify_audit(session, case_id) == []
    assert isinstance(case_id, uuid.UUID)
