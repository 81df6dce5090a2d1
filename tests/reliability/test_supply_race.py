"""Supplied documents against the reply timer and a double submit: decided under the case lock.

A committed database and real threads: one transaction holds the case (the reply timer
firing, or a first copy of the form), the supply waits for it and then sees the case as
it is. Nothing is registered (ΕΙΣ) or kept for a case that no longer waits, and a double
submit with the page's key answers twice the same without a second entry.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.orm import session_scope
from core.settings import Settings
from engine.domains import load_domains
from engine.people.demo import seed_demo_municipality
from engine.protocol.models import ProtocolEntry
from engine.requests import submit_request
from engine.requests.handlers import configure_handlers, reset_handlers
from engine.requests.supply import NotWaitingForDocuments, Supplied, supply_documents
from engine.workflow.commands import complete_task
from engine.workflow.definitions import deploy_directory
from engine.workflow.models import CaseTask, Message
from engine.workflow.timers import fire_due_wakeups_in
from forms.catalogue import get_service
from storage.filesystem import FilesystemStore
from tests.requests.conftest import applicant, form, required_uploads, upload
from tests.requests.test_certificate_issuance import SERVICE, staff

SUPPLIED_SUBJECT = "Συμπληρωματικά στοιχεία%"


@pytest.fixture
def world(
    committed_engine: Engine, tmp_path: Path
) -> Iterator[tuple[sessionmaker[Session], FilesystemStore, Any]]:
    """A committed municipality with one request whose clerk asked the citizen for a document."""
    settings = Settings(
        env="test",
        var_dir=tmp_path / "var",
        storage_url=(tmp_path / "objects").as_uri(),
        secret_key="test-secret-key-test-secret-key",
        base_url="http://polis.test",
    )
    store = FilesystemStore(tmp_path / "objects", secret=settings.secret(), base_url=settings.public_base_url)
    load_domains()
    configure_handlers(settings=settings, store=store)
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with session_scope(factory) as session:
        seed_demo_municipality(session)
        deploy_directory(session)
    with session_scope(factory) as session:
        submitted = submit_request(
            session,
            store,
            service_code=SERVICE,
            form=form(SERVICE),
            attachments=required_uploads(SERVICE),
            applicant=applicant("email"),
            settings=settings,
        )
    with session_scope(factory) as session:
        review = session.scalars(
            select(CaseTask).where(CaseTask.case_id == uuid.UUID(submitted.case_id))
        ).one()
        clerk = staff(session, get_service(SERVICE).department, "clerk")
        complete_task(
            session, review.task_id, {"decision": "ask_citizen", "requested_document": "Ταυτότητα"}, clerk
        )
    with session_scope(factory) as session:
        assert fire_due_wakeups_in(session) == 1  # the notice asking for the document
    yield factory, store, submitted
    reset_handlers()


def _supplied_entries(session: Session, case_id: str) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                ProtocolEntry.case_id == uuid.UUID(case_id), ProtocolEntry.subject.like(SUPPLIED_SUBJECT)
            )
        )
        or 0
    )


def _in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``work`` in a thread; the list gets its result or its exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _supply(
    factory: sessionmaker[Session], store: FilesystemStore, code: str, key: str | None
) -> Callable[[], Any]:
    def work() -> Supplied:
        with session_scope(factory) as session:
            return supply_documents(session, store, code, [upload("id", "id.pdf")], idempotency_key=key)

    return work


def test_documents_sent_while_the_reply_timer_fires_are_refused_not_kept(world: Any) -> None:
    factory, store, submitted = world
    reminder = datetime.now(UTC) + timedelta(days=5, minutes=1)
    with time_machine.travel(reminder, tick=False), session_scope(factory) as session:
        while fire_due_wakeups_in(session):  # the reminder and its notice
            pass
    with time_machine.travel(reminder + timedelta(days=15, minutes=1), tick=True):
        with session_scope(factory) as timer_side:
            # The worker fires the reply timer (the expiry) and still holds the case ...
            assert fire_due_wakeups_in(timer_side, limit=1) == 1
            # ... while the citizen presses "send" on the page that still said "waiting for you".
            thread, outcome = _in_thread(_supply(factory, store, submitted.tracking_code, None))
            time.sleep(0.5)
            assert thread.is_alive()  # waiting for the case lock, not registering meanwhile
        thread.join(30)
    [result] = outcome
    assert isinstance(result, NotWaitingForDocuments), result  # told the truth, not "received"
    with Session(factory.kw["bind"]) as session:
        assert _supplied_entries(session, submitted.case_id) == 0  # no ΕΙΣ for documents nobody reads
        kept = session.scalar(
            select(func.count()).where(Message.message_id.like("supplied:%"), Message.delivered_at.is_(None))
        )
        assert kept == 0  # nothing kept for a later round


def test_a_double_submit_with_one_key_registers_once_and_answers_twice_the_same(world: Any) -> None:
    factory, store, submitted = world
    key = str(uuid.uuid4())  # what the tracking page's form carries
    with session_scope(factory) as holder:  # hold the case so both copies arrive together
        holder.execute(text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": submitted.case_id})
        first = _in_thread(_supply(factory, store, submitted.tracking_code, key))
        second = _in_thread(_supply(factory, store, submitted.tracking_code, key))
        time.sleep(0.5)
    for thread, _ in (first, second):
        thread.join(30)
    answers = [first[1][0], second[1][0]]
    assert all(isinstance(a, Supplied) for a in answers), answers
    assert answers[0].protocol_number == answers[1].protocol_number
    assert sorted(a.replayed for a in answers) == [False, True]
    with Session(factory.kw["bind"]) as session:
        assert _supplied_entries(session, submitted.case_id) == 1


def test_a_double_submit_without_a_key_is_told_the_second_time(world: Any) -> None:
    factory, store, submitted = world
    with session_scope(factory) as holder:
        holder.execute(text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": submitted.case_id})
        first = _in_thread(_supply(factory, store, submitted.tracking_code, None))
        second = _in_thread(_supply(factory, store, submitted.tracking_code, None))
        time.sleep(0.5)
    for thread, _ in (first, second):
        thread.join(30)
    answers = sorted([first[1][0], second[1][0]], key=lambda a: isinstance(a, Exception))
    assert isinstance(answers[0], Supplied) and isinstance(answers[1], NotWaitingForDocuments), answers
    with Session(factory.kw["bind"]) as session:
        assert _supplied_entries(session, submitted.case_id) == 1


def test_the_tracking_page_form_carries_a_key_so_a_resent_form_registers_once(
    client: Any, db_session: Session, test_settings: Settings, object_store: FilesystemStore
) -> None:
    import io
    import re

    seed_demo_municipality(db_session)
    deploy_directory(db_session)
    load_domains()
    configure_handlers(settings=test_settings, store=object_store)
    try:
        submitted = submit_request(
            db_session,
            object_store,
            service_code=SERVICE,
            form=form(SERVICE),
            attachments=required_uploads(SERVICE),
            applicant=applicant("email"),
            settings=test_settings,
        )
        review = db_session.scalars(
            select(CaseTask).where(CaseTask.case_id == uuid.UUID(submitted.case_id))
        ).one()
        clerk = staff(db_session, get_service(SERVICE).department, "clerk")
        complete_task(
            db_session, review.task_id, {"decision": "ask_citizen", "requested_document": "Ταυτότητα"}, clerk
        )
        fire_due_wakeups_in(db_session)
        page = client.get(f"/track/{submitted.tracking_code}").get_data(as_text=True)
        key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page)
        assert key and csrf, page
        statuses = []
        for _ in range(2):  # the citizen presses "send" twice (or the browser resends the form)
            statuses.append(
                client.post(
                    f"/track/{submitted.tracking_code}/documents",
                    data={
                        "_csrf": csrf.group(1),
                        "idempotency_key": key.group(1),
                        "documents": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "id.pdf"),
                    },
                    content_type="multipart/form-data",
                ).status_code
            )
        assert statuses == [303, 303]
        assert _supplied_entries(db_session, submitted.case_id) == 1
    finally:
        reset_handlers()
