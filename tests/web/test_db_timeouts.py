"""Web requests never wait forever on the database (issue 13 item 3)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.settings import Settings
from web.app import create_app
from web.context import db


@pytest.fixture
def quick_app(test_settings: Settings, session_factory: Any, object_store: Any) -> Any:
    settings = test_settings.model_copy(
        update={"web_statement_timeout_seconds": 1, "web_lock_timeout_seconds": 1}
    )
    app = create_app(settings, session_factory=session_factory, store=object_store)

    def wait_for_lock() -> str:
        db().execute(text("SELECT pg_advisory_xact_lock(424242)"))
        return "locked"

    def slow() -> str:
        db().execute(text("SELECT pg_sleep(10)"))
        return "slept"

    app.add_url_rule("/api/v1/test-lock", "test_lock", wait_for_lock)
    app.add_url_rule("/api/v1/test-slow", "test_slow", slow)
    return app


def test_a_request_waiting_on_a_lock_answers_503_after_the_lock_timeout(
    quick_app: Any, db_engine: Engine
) -> None:
    with db_engine.connect() as worker:  # e.g. the worker sealing a case
        worker.execute(text("SELECT pg_advisory_lock(424242)"))
        try:
            started = time.monotonic()
            answer = quick_app.test_client().get("/api/v1/test-lock")
            waited = time.monotonic() - started
        finally:
            worker.execute(text("SELECT pg_advisory_unlock(424242)"))
            worker.commit()
    assert answer.status_code == 503 and answer.json["error"] == "busy", answer.json
    assert answer.headers["Retry-After"] == "5"
    assert waited < 4


def test_a_runaway_statement_is_cancelled(quick_app: Any) -> None:
    started = time.monotonic()
    answer = quick_app.test_client().get("/api/v1/test-slow")
    assert answer.status_code == 503 and answer.json["error"] == "busy"
    assert time.monotonic() - started < 4
