"""What clients see while the database is down, and /healthz when the worker is not running."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from core.clock import utcnow
from core.settings import Settings
from engine.workflow.jobs import HEARTBEAT_STALE, beat


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:  # a port nobody listens on: every connect is refused
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_during_a_database_outage_the_api_answers_503_json_and_pages_a_503_page(tmp_path: Path) -> None:
    from web.app import create_app

    settings = Settings(
        env="test",
        var_dir=tmp_path / "var",
        database_url=f"postgresql://polis@127.0.0.1:{_closed_port()}/polis?connect_timeout=2",
        storage_url=(tmp_path / "objects").as_uri(),
        secret_key="test-secret-key-test-secret-key",
        base_url="http://polis.test",
    )
    client = create_app(settings).test_client()
    code = "A" * 32

    api = client.get(f"/api/v1/track/{code}?lang=en")
    assert api.status_code == 503, api.get_data(as_text=True)
    assert api.json["error"] == "unavailable" and "try again" in api.json["message"]
    assert api.headers["Retry-After"] == "30"

    page = client.get(f"/track/{code}?lang=en")
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "briefly unavailable" in page.get_data(as_text=True)
    assert page.headers["Retry-After"] == "30"

    health = client.get("/healthz")
    assert health.status_code == 503
    assert "Cannot reach the database" in health.json["database"]


def test_healthz_reports_a_stopped_worker(client: Any, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        session.execute(text("DELETE FROM worker_heartbeats"))
    nobody = client.get("/healthz")
    assert nobody.status_code == 503 and "no worker has started" in nobody.json["worker"]

    beat(session_factory, "host:42", utcnow())
    assert client.get("/healthz").status_code == 200

    with session_factory.begin() as session:  # the worker was killed two minutes ago
        session.execute(
            text("UPDATE worker_heartbeats SET beat_at = :at"),
            {"at": utcnow() - HEARTBEAT_STALE - timedelta(minutes=1)},
        )
    stale = client.get("/healthz")
    assert stale.status_code == 503
    assert "last heartbeat was" in stale.json["worker"] and "polis worker" in stale.json["worker"]
    assert stale.json["database"] == "ok"
