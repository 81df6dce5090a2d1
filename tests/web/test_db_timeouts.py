"""Web requests never wait forever on the database (issue 13 item 3)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.clock import utcnow
from core.ratelimits import RateLimitCounter
from core.settings import Settings
from web.app import create_app
from web.context import db, read_only


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


@pytest.fixture
def pooled_app(test_settings: Settings, object_store: Any) -> Iterator[Any]:
    """The app on its own pool, as ``polis run`` serves it, with a page marked read-only."""
    app = create_app(test_settings, store=object_store)

    def in_one_statement() -> dict[str, Any]:
        # Inside a transaction block now() is the block's start, before this statement's.
        same = db().execute(text("SELECT now() = statement_timestamp()")).scalar_one()
        return {"own_transaction": same}

    def reading() -> dict[str, Any]:
        return in_one_statement()

    def reading_post() -> dict[str, Any]:
        return in_one_statement()

    def writes() -> str:
        db().add(RateLimitCounter(bucket="read-only-test", key_digest="x", window_start=utcnow(), hits=1))
        db().flush()
        return "wrote"

    app.add_url_rule("/api/v1/test-read", "test_read", read_only(reading))
    app.add_url_rule("/api/v1/test-read-post", "test_read_post", read_only(reading_post), methods=["POST"])
    app.add_url_rule("/api/v1/test-plain", "test_plain", in_one_statement)
    app.add_url_rule("/api/v1/test-read-write", "test_read_write", read_only(writes))
    yield app
    app.extensions["polis"].engine.dispose()


def test_a_read_only_page_runs_without_a_transaction_block_and_cannot_write(
    pooled_app: Any, db_engine: Engine
) -> None:
    client = pooled_app.test_client()
    assert client.get("/api/v1/test-read").json == {"own_transaction": True}
    assert client.get("/api/v1/test-plain").json == {"own_transaction": False}
    # Only GET and HEAD go without a block; a post to a read-only view still gets one.
    assert client.post("/api/v1/test-read-post").json == {"own_transaction": False}
    # The pooled connection goes back to transactions after a read-only page.
    assert client.get("/api/v1/test-plain").json == {"own_transaction": False}
    pooled_app.testing = False  # the error handler's answer, not the exception
    assert client.get("/api/v1/test-read-write").status_code == 500
    with db_engine.connect() as connection:
        stored = connection.execute(
            text("SELECT count(*) FROM rate_limit_counters WHERE bucket = 'read-only-test'")
        ).scalar_one()
    assert stored == 0
