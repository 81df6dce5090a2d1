"""kill -9 under load: the worker, a web worker and PostgreSQL, while citizens submit requests.

`polis run` in a temporary directory (its own cluster, port and files). Three clients
submit certificate requests over HTTP, each retrying a failed request with the same
Idempotency-Key as a real client would. Meanwhile the worker, one gunicorn worker and the
PostgreSQL postmaster are killed with SIGKILL, one after the other. Nobody restarts
anything by hand. Afterwards: every acknowledged submission is stored, the protocol series
has no gap and no duplicate, no case is stuck, /healthz is 200 again, and after the orphan
sweep no object is left that no record points at.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.people.applicants.accounts import register
from storage import open_store
from storage.orphans import sweep_orphans
from storage.records import scrub
from tests.reliability.polis_process import PolisRun
from tests.requests.conftest import PDF_BYTES, form
from tests.requests.test_api import multipart

pytestmark = pytest.mark.slow
CLIENTS = 3


EMAIL, PASSWORD = "eleni@example.gr", "kill-nine-test-password"


def create_citizen(database_url: str) -> None:
    """A citizen with a confirmed email: their submissions register at once (anonymous ones
    would wait for an emailed link, which is not what this test is about)."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            applicant, _token = register(
                session, email=EMAIL, full_name="Ελένη Παπαδοπούλου", password=PASSWORD, secret="kill9"
            )
            applicant.email_verified_at = datetime.now(UTC)
    finally:
        engine.dispose()


def _signed_in(url: str) -> tuple[urllib.request.OpenerDirector, str] | None:
    """A browser-like client signed in as the citizen, with its CSRF token for multipart posts."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = urllib.request.Request(
        url + "/api/v1/citizen/login",
        data=json.dumps({"email": EMAIL, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        opener.open(login, timeout=15).read()
        with opener.open(url + "/api/v1/citizen/me", timeout=15) as response:
            return opener, str(json.loads(response.read())["csrf_token"])
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


def _submit(url: str, key: str, client: tuple[urllib.request.OpenerDirector, str]) -> dict[str, Any] | None:
    opener, csrf = client
    body = {
        "service": "family_status",
        "form": form("family_status"),
        "applicant": {"name": "Ελένη Παπαδοπούλου", "email": EMAIL, "channel": "email"},
    }
    data, content_type = multipart(
        {"request": json.dumps(body)}, {"attachments.id_copy": (PDF_BYTES, "taftotita.pdf")}
    )
    request = urllib.request.Request(
        url + "/api/v1/requests",
        data=data,
        headers={"Content-Type": content_type, "Idempotency-Key": key, "X-CSRF-Token": csrf},
        method="POST",
    )
    try:
        with opener.open(request, timeout=15) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer if response.status in (200, 201) else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


class Load:
    """Clients that submit until stopped; a failed request is retried with its key."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: dict[str, dict[str, Any]] = {}
        self.failures = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        client = None
        while client is None and not self.stop.is_set():
            client = _signed_in(self.url)
            if client is None:
                time.sleep(0.5)
        while client is not None and not self.stop.is_set():
            key = str(uuid.uuid4())
            for _ in range(40):  # a patient client: up to ~20 s for one request
                answer = _submit(self.url, key, client)
                if answer is not None:
                    self.acknowledged[key] = answer
                    break
                self.failures += 1
                if self.stop.is_set():
                    return
                time.sleep(0.5)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_kill_9_of_worker_web_worker_and_postgresql_under_load() -> None:
    # One citizen submits all the load: the per-address and per-destination limits of
    # submissions would (rightly) stop them long before the kills.
    polis = PolisRun(
        POLIS_WEB_WORKERS="2",
        POLIS_SUBMISSIONS_PER_ADDRESS_HOUR="100000",
        POLIS_SUBMISSIONS_PER_CONTACT_DAY="100000",
    )
    load: Load | None = None
    try:
        polis.wait_for_line(r"web server pid \d+, worker pid \d+", 180)
        pids = polis.pids()
        create_citizen(polis.database_url())
        load = Load(polis.url)
        time.sleep(4)

        seen = len(polis.lines)
        os.kill(pids["worker"], signal.SIGKILL)
        polis.wait_for_line(r"restarted the worker", 30, seen)
        time.sleep(3)

        [victim, *_] = _children(pids["web server"])  # one gunicorn worker; its master replaces it
        os.kill(victim, signal.SIGKILL)
        time.sleep(3)

        seen = len(polis.lines)
        killed_db = time.monotonic()
        os.kill(polis.postmaster_pid(), signal.SIGKILL)
        polis.wait_for_line(r"PostgreSQL is running again", 60, seen)
        polis.wait_healthy(120)
        healed = time.monotonic() - killed_db
        time.sleep(4)  # more load after the recovery
        load.finish()
        print(
            f"acknowledged {len(load.acknowledged)} submissions, {load.failures} failed tries retried; "
            f"healthy again {healed:.1f} s after kill -9 of PostgreSQL"
        )
        assert len(load.acknowledged) >= 10, polis.log()
        assert polis.process.poll() is None  # no manual restart: it is still the same `polis run`

        engine = create_engine(polis.database_url())
        try:
            _check_database(engine, load.acknowledged)
        finally:
            engine.dispose()
        _check_no_orphans(polis, engine_url=polis.database_url())
    finally:
        if load is not None:
            load.finish()
        code = polis.stop()
    assert code == 0, polis.log()


def _check_database(engine: Any, acknowledged: dict[str, dict[str, Any]]) -> None:
    with engine.connect() as connection:
        cases = dict(connection.execute(text("SELECT number, data FROM cases")).all())
        for answer in acknowledged.values():  # no acknowledged submission lost
            assert answer["case_number"] in cases, answer
            stored = cases[answer["case_number"]]["protocol_in"]["display"]
            assert stored == answer["protocol_number"]
        numbers = sorted(
            row[0]
            for row in connection.execute(
                text(
                    "SELECT e.number FROM protocol_entries e "
                    "JOIN protocol_registries r ON r.id = e.registry_id WHERE r.code = 'GEN' "
                    "AND e.year = extract(year FROM now() AT TIME ZONE 'Europe/Athens')"
                )
            )
        )
        assert numbers == list(range(1, len(numbers) + 1))  # no gap, no duplicate

    # No stuck case: once the due work has run, every open case waits for a person or a timer.
    deadline = time.monotonic() + 120
    stuck: list[Any] = []
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            due = connection.execute(
                text("SELECT count(*) FROM engine_wakeups WHERE due_at <= now() AND attempts = 0")
            ).scalar()
            stuck = connection.execute(
                text(
                    "SELECT c.number FROM cases c WHERE c.status = 'active' "
                    "AND NOT EXISTS (SELECT 1 FROM case_tasks t WHERE t.case_id = c.id) "
                    "AND NOT EXISTS (SELECT 1 FROM engine_wakeups w WHERE w.case_id = c.id)"
                )
            ).all()
        if not due and not stuck:
            break
        time.sleep(1)
    assert stuck == [] and not due
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM incidents")).scalar() == 0


def _check_no_orphans(polis: PolisRun, engine_url: str) -> None:
    from sqlalchemy.orm import Session

    store = open_store(Settings(var_dir=polis.var_dir))
    engine = create_engine(engine_url)
    try:
        with Session(engine) as session:
            swept = sweep_orphans(session, store, delete=True, grace=timedelta(0))
            after = sweep_orphans(session, store, delete=False, grace=timedelta(0))
            report = scrub(session, store)
        print(
            f"orphan sweep after the kills: {len(swept.deleted)} object(s), "
            f"{len(swept.temporary)} .part file(s)"
        )
        assert after.orphans == [] and after.temporary == []
        assert report.ok, report  # and nothing recorded went missing
    finally:
        engine.dispose()
