"""Several people complete the same task over HTTP at once: one 200, the others 409."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from core.orm import make_engine, session_scope
from core.settings import Settings
from engine.workflow.models import AuditEvent
from storage.filesystem import FilesystemStore
from tests.web.staff_fixtures import bearer, build_world
from web.app import create_app

CLIENTS = 8


def test_concurrent_completion_gives_one_success_and_conflicts(
    fresh_db_url: str, test_settings: Settings, object_store: FilesystemStore
) -> None:
    engine = make_engine(fresh_db_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with session_scope(factory) as session:
        world = build_world(session)
        tokens = [bearer(session, world.org.clerk), bearer(session, world.org.clerk2)]
    app = create_app(test_settings.model_copy(update={"database_url": fresh_db_url}), store=object_store)
    barrier = threading.Barrier(CLIENTS)
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def complete(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/tasks/{world.task_id}/complete",
            json={"data": {"title": f"attempt {index}"}},
            headers=tokens[index % 2],
        )
        with lock:
            answers.append((response.status_code, response.json))

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        statuses = sorted(status for status, _ in answers)
        assert statuses == [200] + [409] * (CLIENTS - 1), answers
        conflicts = [body for status, body in answers if status == 409]
        assert all(body["error"] == "task_conflict" for body in conflicts)
        assert all("already completed by Clerk" in body["message"] for body in conflicts), conflicts
        with session_scope(factory) as session:
            completions = session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.case_id == world.case_id, AuditEvent.action == "task_completed")
            )
        assert completions == 1
    finally:
        app.extensions["polis"].engine.dispose()
        engine.dispose()
