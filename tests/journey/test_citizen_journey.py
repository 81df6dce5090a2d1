"""A citizen's certificate request end to end, with every component real.

Polis serves HTTP on loopback (werkzeug) against its own PostgreSQL; files go to an S3
server on loopback (moto) through the minio SDK; the worker (procrastinate) runs the
service tasks and sends notices to an SMTP server (aiosmtpd) and an SMS gateway stub; the
certificate is sealed at PAdES B-LT with certomancer's TSA and OCSP on loopback, then
checked with pyHanko and with ``openssl cms -verify``. Staff decisions go through the engine's
commands, each in its own committed transaction, as the staff web pages make them.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from core.orm import make_engine, make_session_factory, session_scope
from core.settings import Settings
from engine.notifications.models import Notification
from engine.people.demo import DEMO_PASSWORD, seed_demo_municipality
from engine.people.models import Department, User
from engine.people.tokens import create_token
from engine.protocol.models import ProtocolEntry
from engine.requests.handlers import configure_handlers, reset_handlers
from engine.workflow.definitions import deploy_directory
from engine.workflow.jobs import start_worker_thread
from engine.workflow.models import Case, CaseTask
from engine.workflow.timers import fire_due_wakeups_in
from signing.sealer import PadesLevel, Sealer
from signing.signers import Pkcs12Signer
from signing.verify import Verdict, verify
from storage.s3 import S3Store
from tests.citizens.test_notifications import Mailbox
from tests.requests.anonymous import solve, token_in
from tests.requests.conftest import PDF_BYTES, form
from tests.requests.test_api import multipart
from tests.signing.pkitools import TestPki, openssl_verify_all, running_pki
from tests.storage.conftest import free_port, moto_endpoint  # noqa: F401  (fixture)

SERVICE = "family_status"
WAIT = 90.0  # seconds: the worker is fast, but CI machines are slow and busy


@pytest.fixture(scope="module")
def test_pki() -> Iterator[TestPki]:
    with running_pki() as pki:
        yield pki


@pytest.fixture
def smtp() -> Iterator[SimpleNamespace]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SimpleNamespace(mailbox=mailbox, port=port)
    controller.stop()


@pytest.fixture
def sms() -> Iterator[SimpleNamespace]:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_address[1]}/send", received=received)
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def polis(
    fresh_db_url: str,
    tmp_path: Any,
    moto_endpoint: str,  # noqa: F811
    smtp: SimpleNamespace,
    sms: SimpleNamespace,
    test_pki: TestPki,
) -> Iterator[SimpleNamespace]:
    """Polis serving HTTP on loopback, with its worker, on a database of its own."""
    port = free_port()
    settings = Settings(
        env="test",
        var_dir=tmp_path / "var",
        database_url=fresh_db_url,
        storage_url=(tmp_path / "unused").as_uri(),
        secret_key="journey-secret-key-journey-secret",
        base_url=f"http://127.0.0.1:{port}",
        municipality_name="Δήμος Χανίων",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        sms_gateway_url=sms.url,
        submission_challenge_cost=1,
    )
    engine = make_engine(fresh_db_url, pool_size=6)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        seed_demo_municipality(session)
        deploy_directory(session)
    store = S3Store(
        endpoint=moto_endpoint,
        access_key="test",
        secret_key="test",
        bucket=f"polis-{uuid.uuid4().hex[:12]}",
        secure=False,
    )
    sealer = Sealer(
        Pkcs12Signer(test_pki.p12("signer"), b"test-pass"),
        level=PadesLevel.B_LT,
        tsa_url=test_pki.pki.tsa_url,
        trust_roots=[test_pki.root],
    )
    configure_handlers(settings=settings, store=store, sealer=sealer)
    from web.app import create_app

    app = create_app(settings, session_factory=factory, store=store)
    server = make_server("127.0.0.1", port, app, threaded=True)
    web = threading.Thread(target=server.serve_forever, daemon=True)
    web.start()
    worker, stop = start_worker_thread(factory, poll_seconds=0.2, settings=settings)
    try:
        yield SimpleNamespace(url=settings.base_url, factory=factory, settings=settings, store=store)
    finally:
        stop.set()
        worker.join(30)
        server.shutdown()
        web.join(10)
        reset_handlers()
        engine.dispose()


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    """Poll ``check`` until it returns something truthy (the worker runs on its own)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class StaffClient:
    """A member of staff working through the HTTP API: a browser session or an API token."""

    def __init__(self, base: str, http: requests.Session, csrf: str | None = None) -> None:
        self.base, self.http, self.csrf = base, http, csrf

    @classmethod
    def signed_in(cls, base: str, username: str) -> StaffClient:
        """Sign in on the login form, as a person does, then take the API's CSRF token."""
        http = requests.Session()
        form_page = http.get(f"{base}/login", timeout=30).text
        token = re.search(r'name="_csrf" value="([^"]+)"', form_page)
        assert token is not None, "the login form carries a CSRF token"
        answer = http.post(
            f"{base}/login",
            data={"_csrf": token.group(1), "username": username, "password": DEMO_PASSWORD},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 302, answer.text
        me = http.get(f"{base}/api/v1/me", timeout=30)
        assert me.status_code == 200 and me.json()["username"] == username, me.text
        return cls(base, http, me.json()["csrf_token"])

    @classmethod
    def with_token(cls, base: str, factory: sessionmaker[Session], username: str) -> StaffClient:
        """An API token, as ``polis tokens create`` issues it, sent as a Bearer header."""
        with session_scope(factory) as session:
            user = session.scalars(select(User).where(User.username == username)).one()
            secret = create_token(session, user, "journey").secret
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {secret}"
        return cls(base, http)

    def get(self, path: str, **params: Any) -> Any:
        answer = self.http.get(f"{self.base}/api/v1{path}", params=params, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: dict[str, Any] | None = None, expect: int = 200) -> Any:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        answer = self.http.post(f"{self.base}/api/v1{path}", json=body or {}, headers=headers, timeout=60)
        assert answer.status_code == expect, answer.text
        return answer.json()

    def find_task(self, view: str, case_number: str, bpmn_id: str) -> dict[str, Any] | None:
        """The case's open task ``bpmn_id`` in one of the caller's inboxes, in full."""
        for item in self.get("/tasks", view=view)["tasks"]:
            if item["case_number"] == case_number:
                task = self.get(f"/tasks/{item['id']}")
                if task["bpmn_id"] == bpmn_id:
                    return task  # type: ignore[no-any-return]
        return None

    def wait_task(self, view: str, case_number: str, bpmn_id: str) -> dict[str, Any]:
        return wait_for(  # type: ignore[no-any-return]
            f"task {bpmn_id} of {case_number} in the {view} inbox",
            lambda: self.find_task(view, case_number, bpmn_id),
        )

    def complete(self, task: dict[str, Any], data: dict[str, Any]) -> Any:
        return self.post(f"/tasks/{task['id']}/complete", {"data": data})


def open_task(factory: sessionmaker[Session], case_number: str, bpmn_id: str) -> uuid.UUID | None:
    with session_scope(factory) as session:
        return session.scalar(
            select(CaseTask.task_id)
            .join(Case, Case.id == CaseTask.case_id)
            .where(Case.number == case_number, CaseTask.bpmn_id == bpmn_id)
        )


def mails_to(smtp: SimpleNamespace, address: str) -> list[email.message.EmailMessage]:
    parsed = [email.message_from_bytes(raw, policy=email.policy.default) for raw in smtp.mailbox.messages]
    return [m for m in parsed if address in str(m["To"])]  # type: ignore[misc]


def submit(
    polis: SimpleNamespace, smtp: SimpleNamespace, key: str, applicant: dict[str, Any]
) -> requests.Response:
    """What a browser does without signing in: solve the challenge, submit (held: 202), then the
    citizen follows the link in the confirmation email; the answer of that last step."""
    challenge = requests.get(f"{polis.url}/api/v1/requests/challenge", timeout=30).json()
    body = {"service": SERVICE, "form": form(SERVICE), "applicant": applicant, "altcha": solve(challenge)}
    data, content_type = multipart(
        {"request": json.dumps(body)}, {"attachments.id_copy": (PDF_BYTES, "taftotita.pdf")}
    )
    held = requests.post(
        f"{polis.url}/api/v1/requests",
        data=data,
        headers={"Content-Type": content_type, "Idempotency-Key": key},
        timeout=60,
    )
    assert held.status_code == 202, held.text
    confirmations = wait_for(
        "the confirmation email",
        lambda: [
            m
            for m in mails_to(smtp, applicant["email"])
            if "/citizen/confirm-request?" in m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        ],
    )
    token = token_in(confirmations[-1].get_body(("plain",)).get_content())  # type: ignore[union-attr]
    return requests.post(f"{polis.url}/api/v1/requests/confirm", json={"token": token}, timeout=60)


def department_users(factory: sessionmaker[Session]) -> tuple[User, User]:
    from forms.catalogue import get_service

    code = get_service(SERVICE).department
    with session_scope(factory) as session:
        department = session.scalars(select(Department).where(Department.code == code)).one()
        users = session.scalars(select(User).where(User.department_id == department.id)).all()
        clerk = next(u for u in users if "clerk" in u.roles)
        head = next(u for u in users if u.id == department.head_user_id)
        session.expunge_all()
    return clerk, head


def test_a_certificate_request_from_submission_to_a_verified_sealed_pdf(
    polis: SimpleNamespace, smtp: SimpleNamespace, sms: SimpleNamespace, test_pki: TestPki
) -> None:
    applicant = {
        "name": "Ελένη Παπαδοπούλου",
        "email": "eleni@example.gr",
        "phone": "6912345678",
        "channel": "both",
    }
    services = requests.get(f"{polis.url}/api/v1/services", timeout=30).json()["services"]
    assert SERVICE in {s["code"] for s in services}

    key = str(uuid.uuid4())
    first = submit(polis, smtp, key, applicant)
    assert first.status_code == 201, first.text
    receipt = first.json()
    again = submit(polis, smtp, key, applicant)  # the browser retried: same case, nothing new
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["case_number"] == receipt["case_number"]
    code, number = receipt["tracking_code"], receipt["case_number"]
    assert " ΕΙΣ " in receipt["protocol_number"]

    received = wait_for(
        "the acknowledgement email",
        lambda: [m for m in mails_to(smtp, "eleni@example.gr") if number in str(m["Subject"])],
    )
    assert number in str(received[0]["Subject"])
    tracking_link = f"{polis.url}/track/{code}"
    assert tracking_link in received[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    texts = wait_for("the acknowledgement SMS", lambda: sms.received)
    assert texts[0]["to"] == "6912345678" and code in texts[0]["text"]  # one SMS: the code, not the link

    clerk, head = department_users(polis.factory)
    clerk_api = StaffClient.signed_in(polis.url, clerk.username)  # the clerk's browser session
    head_api = StaffClient.with_token(polis.url, polis.factory, head.username)  # the head's API token
    review = clerk_api.wait_task("department", number, "review")
    assert "ask_citizen" in review["form"]["properties"]["decision"]["enum"]  # the form the clerk fills in
    claimed = clerk_api.post(f"/tasks/{review['id']}/claim")
    assert claimed["assignee"]["full_name"] == clerk.full_name
    refused = head_api.post(f"/tasks/{review['id']}/complete", {"data": {}}, expect=409)
    assert clerk.full_name in refused["message"]  # claimed by someone else: a clear conflict
    asked_now = clerk_api.complete(
        review, {"decision": "ask_citizen", "requested_document": "Λογαριασμός ΔΕΚΟ"}
    )
    assert asked_now["case"]["number"] == number
    asked = wait_for(
        "the request for a document",
        lambda: [m for m in mails_to(smtp, "eleni@example.gr") if "Χρειαζόμαστε" in str(m["Subject"])],
    )
    assert "Λογαριασμός ΔΕΚΟ" in asked[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    tracked = requests.get(f"{polis.url}/api/v1/track/{code}", timeout=30).json()
    assert tracked["status"] == "waiting_for_you"
    assert tracked["action_required"]["document"] == "Λογαριασμός ΔΕΚΟ"
    assert "ypallilos" not in json.dumps(tracked) and clerk.full_name not in json.dumps(tracked)

    data, content_type = multipart({"note": "Ο λογαριασμός"}, {"documents": (PDF_BYTES, "deko.pdf")})
    supplied = requests.post(
        f"{polis.url}/api/v1/track/{code}/documents",
        data=data,
        headers={"Content-Type": content_type},
        timeout=60,
    )
    assert supplied.status_code == 201, supplied.text

    review = clerk_api.wait_task("department", number, "review")
    clerk_api.post(f"/tasks/{review['id']}/claim")
    clerk_api.post(
        f"/cases/{review['case']['id']}/comments", {"comment": "Ο λογαριασμός ταιριάζει."}, expect=201
    )
    clerk_api.complete(review, {"decision": "propose_approval"})
    approve = head_api.wait_task("approvals", number, "approve")
    head_api.complete(approve, {"decision": "approve"})

    def issued() -> dict[str, Any] | None:
        body = requests.get(f"{polis.url}/api/v1/track/{code}", timeout=30).json()
        return body if body["status"] == "issued" else None

    tracked = wait_for("the certificate", issued)
    assert [m["code"] for m in tracked["timeline"] if m["reached"]] == [
        "submitted",
        "registered",
        "under_review",
        "waiting_for_you",
        "document_received",
        "under_review",
        "approved",
        "issued",
    ]  # fmt: skip  (reviewed again once the document arrived: the process's own milestones)
    page = requests.get(tracking_link, timeout=30)
    assert page.status_code == 200 and f"/track/{code}/certificate" in page.text
    assert "Εκδόθηκε" in page.text and clerk.full_name not in page.text
    pdf = requests.get(f"{polis.url}/api/v1/track/{code}/certificate", timeout=60)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    report = verify(pdf.content, trust_roots=[test_pki.root])
    assert report.verdict is Verdict.VALID, report.reason
    assert openssl_verify_all(pdf.content, test_pki.root_pem) == 1

    detail = head_api.get(f"/cases/{review['case']['id']}")  # the staff case screen
    assert detail["status"] == "completed" and detail["tasks"] == []
    assert {"id_copy", None} <= {f["attachment_key"] for f in detail["files"]}
    assert {f["kind"] for f in detail["files"]} >= {"attachment", "certificate"}
    actions = [e["action"] for e in detail["timeline"]]
    assert (
        actions[0] == "case_started" and "comment_added" in actions and actions.count("task_completed") == 3
    )
    signed = next(f for f in detail["files"] if f["kind"] == "certificate")
    assert requests.get(signed["download_url"], timeout=30).content == pdf.content
    with session_scope(polis.factory) as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        verification_code = case.data["certificate"]["verification_code"]
        out_number = case.data["protocol_out"]["display"]
    record = requests.get(f"{polis.url}/api/v1/verify/{verification_code}", timeout=30).json()
    assert record["status"] == "valid" and record["protocol_number"] == out_number
    with session_scope(polis.factory) as session:
        entries = session.scalars(
            select(ProtocolEntry).where(ProtocolEntry.case_id == case.id).order_by(ProtocolEntry.number)
        ).all()
        registered = [(e.direction, e.display_number) for e in entries]
        files = {e.direction: [f.sha256 for f in e.files] for e in entries}
    assert [d for d, _ in registered] == ["ΕΙΣ", "ΕΙΣ", "ΕΞ"]  # the request, the supplied bill, the answer
    assert registered[0][1] == receipt["protocol_number"] and registered[-1][1] == out_number
    assert files["ΕΞ"] == [hashlib.sha256(pdf.content).hexdigest()]  # the sealed PDF is the one registered

    done = wait_for(
        "the certificate email",
        lambda: [m for m in mails_to(smtp, "eleni@example.gr") if str(m["Subject"]).startswith("Εκδόθηκε")],
    )
    assert out_number in done[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    wait_for("three SMS (received, asked, issued)", lambda: len(sms.received) >= 3)
    with session_scope(polis.factory) as session:
        statuses = session.scalars(select(Notification.status).where(Notification.case_id == case.id)).all()
    assert sorted(statuses) == ["sent"] * 6


def test_a_rejected_request_is_answered_with_the_reason(
    polis: SimpleNamespace, smtp: SimpleNamespace
) -> None:
    applicant = {"name": "Νίκος Παππάς", "email": "nikos@example.gr", "channel": "email", "locale": "en"}
    response = submit(polis, smtp, str(uuid.uuid4()), applicant)
    assert response.status_code == 201, response.text
    code, number = response.json()["tracking_code"], response.json()["case_number"]
    clerk, head = department_users(polis.factory)
    clerk_api = StaffClient.with_token(polis.url, polis.factory, clerk.username)
    head_api = StaffClient.signed_in(polis.url, head.username)
    review = clerk_api.wait_task("department", number, "review")
    clerk_api.post(f"/tasks/{review['id']}/claim")
    clerk_api.complete(review, {"decision": "propose_rejection", "reason": "Not registered"})
    approve = head_api.wait_task("approvals", number, "approve")
    empty = head_api.post(f"/tasks/{approve['id']}/complete", {"data": {"decision": "reject"}}, expect=422)
    assert "reason" in json.dumps(empty)  # a rejection without its reason is refused, nothing moves
    reason = "You are not registered in the municipal roll of Chania."
    head_api.complete(approve, {"decision": "reject", "reason": reason})

    def rejected() -> dict[str, Any] | None:
        body = requests.get(f"{polis.url}/api/v1/track/{code}?lang=en", timeout=30).json()
        return body if body["status"] == "rejected" else None

    tracked = wait_for("the rejection", rejected)
    assert tracked["rejection_reason"] == reason
    assert requests.get(f"{polis.url}/api/v1/track/{code}/certificate", timeout=30).status_code == 404
    answer = wait_for(
        "the rejection email",
        lambda: [m for m in mails_to(smtp, "nikos@example.gr") if "not accepted" in str(m["Subject"])],
    )
    assert reason in answer[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_an_overdue_review_is_escalated_to_the_head(polis: SimpleNamespace, smtp: SimpleNamespace) -> None:
    """The legal deadline passes (frozen, travelled clock): the head gets the review."""
    applicant = {"name": "Μαρία Κ.", "email": "maria@example.gr", "channel": "email"}
    response = submit(polis, smtp, str(uuid.uuid4()), applicant)
    assert response.status_code == 201, response.text
    number = response.json()["case_number"]
    wait_for("the review task", lambda: open_task(polis.factory, number, "review"))
    with session_scope(polis.factory) as session:
        due = session.scalar(
            select(CaseTask.due_at).join(Case, Case.id == CaseTask.case_id).where(Case.number == number)
        )
    assert due is not None and due > datetime.now(UTC)
    # What the worker's sweep does once the due time has come.
    with time_machine.travel(due + timedelta(minutes=5), tick=False), session_scope(polis.factory) as session:
        assert fire_due_wakeups_in(session) >= 1
    assert open_task(polis.factory, number, "review") is None
    clerk, head = department_users(polis.factory)
    head_api = StaffClient.with_token(polis.url, polis.factory, head.username)
    escalated = head_api.find_task("approvals", number, "review_escalated")
    assert escalated is not None and escalated["role"] == "head"
    assert (
        StaffClient.with_token(polis.url, polis.factory, clerk.username).find_task(
            "department", number, "review"
        )
        is None
    )  # gone from the clerks' queue
