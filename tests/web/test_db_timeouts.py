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


@pytest.fixture(params=["shared connection", "own pool"])
def quick_app(request: Any, test_settings: Settings, session_factory: Any, object_store: Any) -> Any:
    """The app on the test's connection (timeouts per transaction) and on its own pool, as
    ``polis run`` serves it (timeouts set once when a connection starts)."""
    settings = test_settings.model_copy(
        update={"web_statement_timeout_seconds": 1, "web_lock_timeout_seconds": 1}
    )
    own_pool = request.param == "own pool"
    app = create_app(settings, session_factory=None if own_pool else session_factory, store=object_store)
    if own_pool:
        request.addfinalizer(app.extensions["polis"].engine.dispose)

    def wait_for_lock() -> str:
        db().execute(text("SELECT pg_advisory_xact_lock(424242)"))
        return "locked"

    def slow() -> str:
        db().execute(text("SELECT pg_sleep(10)"))
        return "slept"

    def timeouts() -> dict[str, Any]:
        return {
            name: db().execute(text(f"SHOW {name}")).scalar_one()
            for name in ("statement_timeout", "lock_timeout")
        }

    app.add_url_rule("/api/v1/test-lock", "test_lock", wait_for_lock)
    app.add_url_rule("/api/v1/test-timeouts", "test_timeouts", timeouts)
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


def test_every_request_has_the_web_timeouts(quick_app: Any) -> None:
    client = quick_app.test_client()
    for _ in range(3):  # a pooled connection keeps them from one request to the next
        answer = client.get("/api/v1/test-timeouts")
        assert answer.json == {"statement_timeout": "1s", "lock_timeout": "1s"}
