"""The notification outbox against a real SMTP server and an HTTP SMS gateway on loopback."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from core.errors import InvalidInput
from core.orm import make_engine, make_session_factory, session_scope
from core.settings import Settings
from engine.notifications.messages import render_sms, sms_encoding, sms_length
from engine.notifications.models import Notification
from engine.notifications.outbox import (
    RetryPolicy,
    deliver_due,
    delivery_status,
    enqueue_notification,
    notify_applicant,
)
from engine.notifications.senders import HttpSmsSender, SmtpSender, senders_from_settings
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_directory
from tests.engine.conftest import make_org

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
VALUES = {
    "applicant_name": "Ελένη Παπαδοπούλου",
    "case_number": "2026-000123",
    "service_title": "Πιστοποιητικό οικογενειακής κατάστασης",
    "tracking_url": "https://polis.chania.gr/track/K7QX93FD",
    "tracking_code": "K7QX93FD",
    "municipality_name": "Δήμος Χανίων",
    "reason": "Δεν είστε εγγεγραμμένη στο Δημοτολόγιο του Δήμου.",
    "document": "Λογαριασμός ΔΕΚΟ",
}
POLICY = RetryPolicy(max_attempts=3, first_delay=timedelta(seconds=60))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler that keeps what it receives (and can refuse or be slow)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.sessions: set[int] = set()
        self.refuse: set[str] = set()
        self.delay = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.delay:
            time.sleep(self.delay)  # blocks the server loop on purpose: a slow server
        self.sessions.add(id(session))
        self.messages.append(envelope.original_content or envelope.content)
        return "250 Message accepted"


@pytest.fixture
def factory(fresh_db_url):
    engine = make_engine(fresh_db_url, pool_size=4)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    server = SimpleNamespace(mailbox=mailbox, port=port, controller=controller, running=False)

    def start():
        controller.start()
        server.running = True

    server.start = start
    yield server
    if server.running:
        controller.stop()


@pytest.fixture
def sms_gateway():
    received: list[dict] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = statuses.pop(0) if statuses else 200
            if status == 200:
                received.append({"json": json.loads(body), "auth": self.headers.get("Authorization")})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}' if status == 200 else b'{"error": "busy"}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/send"
    yield SimpleNamespace(url=url, received=received, statuses=statuses)
    server.shutdown()
    server.server_close()
    thread.join()


def _smtp_sender(port: int) -> SmtpSender:
    return SmtpSender("127.0.0.1", port, sender="Δήμος Χανίων <noreply@chania.gr>", starttls=False, timeout=5)


def _enqueue(factory, **extra):
    arguments = {
        "channel": "email",
        "recipient": "eleni@example.gr",
        "locale": "el",
        "template_key": "request_received",
        "values": VALUES,
        "now": NOW,
    } | extra
    with session_scope(factory) as session:
        return enqueue_notification(session, **arguments).id


def _row(factory, notification_id) -> Notification:
    with session_scope(factory) as session:
        return session.get(Notification, notification_id)


def test_email_is_delivered_with_a_greek_subject_and_both_parts(factory, smtp):
    smtp.start()
    notification_id = _enqueue(factory)
    report = deliver_due(factory, NOW, senders={"email": _smtp_sender(smtp.port)}, policy=POLICY)
    assert report.sent == [notification_id]
    row = _row(factory, notification_id)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, NOW)
    raw = smtp.mailbox.messages[0]
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0].lower()  # RFC 2047 encoded header
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == ("Λάβαμε το αίτημά σας 2026-000123 — Πιστοποιητικό οικογενειακής κατάστασης")
    assert message["From"].addresses[0].display_name == "Δήμος Χανίων"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "https://polis.chania.gr/track/K7QX93FD" in text
    assert 'href="https://polis.chania.gr/track/K7QX93FD"' in html


def test_one_connection_serves_a_whole_run_and_a_dropped_one_is_replaced(factory, smtp):
    smtp.start()
    for n in range(3):
        _enqueue(factory, values=VALUES | {"case_number": f"2026-{n:06d}"})
    sender = _smtp_sender(smtp.port)
    sender._connection()  # open one now, then lose it: the next send must notice and reconnect
    sender._local.smtp.sock.close()
    assert len(deliver_due(factory, NOW, senders={"email": sender}).sent) == 3
    assert len(smtp.mailbox.messages) == 3
    assert len(smtp.mailbox.sessions) == 1
    assert sender._local.smtp is None  # closed at the end of the run


def test_nothing_is_sent_before_its_time_or_twice(factory, smtp):
    smtp.start()
    _enqueue(factory, now=NOW + timedelta(minutes=5))
    senders = {"email": _smtp_sender(smtp.port)}
    assert deliver_due(factory, NOW, senders=senders).sent == []
    assert len(deliver_due(factory, NOW + timedelta(minutes=5), senders=senders).sent) == 1
    assert deliver_due(factory, NOW + timedelta(hours=1), senders=senders).sent == []
    assert len(smtp.mailbox.messages) == 1


def test_retry_after_the_server_was_down_with_backoff(factory, smtp):
    notification_id = _enqueue(factory)
    senders = {"email": _smtp_sender(smtp.port)}  # nothing listens there yet
    report = deliver_due(factory, NOW, senders=senders, policy=POLICY)
    assert report.retrying == [notification_id]
    row = _row(factory, notification_id)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.next_attempt_at == NOW + timedelta(seconds=60)
    assert "Cannot send email through 127.0.0.1" in row.last_error

    smtp.start()
    assert deliver_due(factory, NOW + timedelta(seconds=59), senders=senders, policy=POLICY).sent == []
    assert deliver_due(factory, NOW + timedelta(seconds=60), senders=senders, policy=POLICY).sent == [
        notification_id
    ]
    row = _row(factory, notification_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(smtp.mailbox.messages) == 1


def test_backoff_doubles_and_the_last_attempt_marks_failed(factory):
    notification_id = _enqueue(factory)
    senders = {"email": _smtp_sender(_free_port())}  # never up
    clock = NOW
    waits = []
    for _ in range(POLICY.max_attempts):
        deliver_due(factory, clock, senders=senders, policy=POLICY)
        row = _row(factory, notification_id)
        if row.status == "failed":
            break
        waits.append(row.next_attempt_at - clock)
        clock = row.next_attempt_at
    assert waits == [timedelta(seconds=60), timedelta(seconds=120)]
    assert (row.status, row.attempts) == ("failed", 3)
    assert deliver_due(factory, clock + timedelta(days=1), senders=senders, policy=POLICY).failed == []


def test_a_refused_recipient_fails_at_once(factory, smtp):
    smtp.start()
    smtp.mailbox.refuse.add("gone@example.gr")
    notification_id = _enqueue(factory, recipient="gone@example.gr")
    report = deliver_due(factory, NOW, senders={"email": _smtp_sender(smtp.port)}, policy=POLICY)
    assert report.failed == [notification_id]
    assert "refused gone@example.gr" in _row(factory, notification_id).last_error


def test_two_workers_never_send_the_same_message_twice(factory, smtp):
    smtp.start()
    smtp.mailbox.delay = 0.02
    ids = {_enqueue(factory, values=VALUES | {"case_number": f"2026-{n:06d}"}) for n in range(12)}
    senders = {"email": _smtp_sender(smtp.port)}
    reports = []
    workers = [
        threading.Thread(target=lambda: reports.append(deliver_due(factory, NOW, senders=senders)))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sent = [notification_id for report in reports for notification_id in report.sent]
    assert sorted(sent) == sorted(ids)
    assert len(smtp.mailbox.messages) == 12


def test_sms_through_the_gateway_with_retry(factory, sms_gateway):
    sms_gateway.statuses.append(503)
    notification_id = _enqueue(factory, channel="sms", recipient="+30 691 234 5678")
    sender = HttpSmsSender(sms_gateway.url, "gw-token")
    report = deliver_due(factory, NOW, senders={"sms": sender}, policy=POLICY)
    assert report.retrying == [notification_id]
    assert "answered 503" in _row(factory, notification_id).last_error
    report = deliver_due(factory, NOW + timedelta(minutes=1), senders={"sms": sender}, policy=POLICY)
    assert report.sent == [notification_id]
    [request] = sms_gateway.received
    assert request["auth"] == "Bearer gw-token"
    assert request["json"]["to"] == "+306912345678"
    assert "K7QX93FD" in request["json"]["text"]
    assert sms_length(request["json"]["text"]) <= 160


def test_gateway_refusal_is_permanent(factory, sms_gateway):
    sms_gateway.statuses.append(400)
    notification_id = _enqueue(factory, channel="sms", recipient="6912345678")
    report = deliver_due(factory, NOW, senders={"sms": HttpSmsSender(sms_gateway.url)}, policy=POLICY)
    assert report.failed == [notification_id]


def test_a_crashing_sender_uses_up_attempts_instead_of_blocking_the_queue(factory):
    class Broken:
        def send(self, notification):
            raise KeyError("bug")

        def close(self):
            pass

    notification_id = _enqueue(factory)
    policy = RetryPolicy(max_attempts=1)
    assert deliver_due(factory, NOW, senders={"email": Broken()}, policy=policy).failed == [notification_id]
    assert _row(factory, notification_id).last_error == "Unexpected error: KeyError('bug')"


def test_channels_without_a_sender_wait(factory, sms_gateway):
    notification_id = _enqueue(factory, channel="sms", recipient="6912345678")
    assert deliver_due(factory, NOW, senders={}).sent == []
    assert _row(factory, notification_id).status == "queued"


def test_notify_applicant_uses_the_chosen_channels_in_the_callers_transaction(db_session):
    applicant = SimpleNamespace(
        email="eleni@example.gr", phone="6912345678", preferred_channel="both", preferred_locale="en"
    )
    deploy_directory(db_session)
    org = make_org(db_session)
    case_id = start_case(
        db_session, "document_approval", department_id=org.department.id, started_by=org.clerk
    ).id
    created = notify_applicant(
        db_session, applicant, template_key="request_rejected", values=VALUES, case_id=case_id, now=NOW
    )
    assert [n.channel for n in created] == ["email", "sms"]
    assert created[0].subject == "Answer to request 2026-000123: not accepted"
    assert "Δεν είστε εγγεγραμμένη" in created[0].body_text
    assert [n.id for n in delivery_status(db_session, case_id)] == [n.id for n in created]
    email_only = SimpleNamespace(
        email="x@example.gr", phone=None, preferred_channel="both", preferred_locale="el"
    )
    assert [
        n.channel
        for n in notify_applicant(db_session, email_only, template_key="certificate_issued", values=VALUES)
    ] == ["email"]


def test_bad_recipients_and_templates_are_refused(db_session):
    with pytest.raises(InvalidInput, match="not an email address"):
        enqueue_notification(
            db_session,
            channel="email",
            recipient="eleni\r\nBcc: all@example.gr",
            locale="el",
            template_key="request_received",
            values=VALUES,
        )
    with pytest.raises(InvalidInput, match="not a phone number"):
        enqueue_notification(
            db_session,
            channel="sms",
            recipient="123",
            locale="el",
            template_key="request_received",
            values=VALUES,
        )
    with pytest.raises(InvalidInput, match="needs values for \\['reason'\\]"):
        enqueue_notification(
            db_session,
            channel="email",
            recipient="a@example.gr",
            locale="el",
            template_key="request_rejected",
            values={k: v for k, v in VALUES.items() if k != "reason"},
        )
    with pytest.raises(InvalidInput, match="Unknown notification"):
        enqueue_notification(
            db_session,
            channel="email",
            recipient="a@example.gr",
            locale="el",
            template_key="nope",
            values=VALUES,
        )
    assert db_session.scalars(select(Notification)).all() == []


def test_html_escapes_values_and_subjects_stay_on_one_line(db_session):
    notification = enqueue_notification(
        db_session,
        channel="email",
        recipient="a@example.gr",
        locale="el",
        template_key="request_rejected",
        values=VALUES | {"reason": "<script>x</script>", "service_title": "Α\r\nBcc: x@example.gr"},
    )
    assert "&lt;script&gt;" in notification.body_html
    assert "<script>" not in notification.body_html
    assert "\n" not in notification.subject and "\r" not in notification.subject


@pytest.mark.parametrize(
    "key", ["request_received", "document_requested", "certificate_issued", "request_rejected"]
)
@pytest.mark.parametrize("locale", ["el", "en"])
def test_every_sms_fits_one_message(key, locale):
    long_values = VALUES | {"municipality_name": "Δήμος Ηρακλείου Κρήτης", "case_number": "2026-123456"}
    text = render_sms(key, locale, long_values)
    limit = 160 if sms_encoding(text) == "gsm7" else 70
    assert sms_length(text) <= limit, text
    assert "https://polis.chania.gr/track/K7QX93FD" in text or "K7QX93FD" in text


@pytest.mark.parametrize(
    ("locale", "subject"), [("el", "Επιβεβαιώστε το email σας"), ("en", "Confirm your email")]
)
def test_email_verification_message(db_session, locale, subject):
    notification = enqueue_notification(
        db_session,
        channel="email",
        recipient="eleni@example.gr",
        locale=locale,
        template_key="email_verification",
        values={
            "applicant_name": "Ελένη",
            "verification_url": "https://polis.chania.gr/verify-email/abc",
            "municipality_name": "Δήμος Χανίων",
        },
    )
    assert notification.subject.startswith(subject)
    assert "https://polis.chania.gr/verify-email/abc" in notification.body_text
    assert notification.case_id is None


def test_senders_from_settings(tmp_path):
    assert senders_from_settings(Settings(var_dir=tmp_path)) == {}
    settings = Settings(var_dir=tmp_path, smtp_host="127.0.0.1", sms_gateway_url="http://127.0.0.1:9/send")
    assert set(senders_from_settings(settings)) == {"email", "sms"}


def test_the_outbox_directory_takes_the_channels_without_a_server(factory, tmp_path):
    outbox = tmp_path / "outbox"
    senders = senders_from_settings(Settings(var_dir=tmp_path, outbox_dir=outbox))
    assert {type(s).__name__ for s in senders.values()} == {"FileSender"}
    mixed = senders_from_settings(Settings(var_dir=tmp_path, outbox_dir=outbox, smtp_host="127.0.0.1"))
    assert (type(mixed["email"]).__name__, type(mixed["sms"]).__name__) == ("SmtpSender", "FileSender")

    mail = _enqueue(factory)
    text = _enqueue(factory, channel="sms", recipient="6912345678")
    report = deliver_due(factory, NOW + timedelta(seconds=1), senders=senders)
    assert sorted(report.sent) == sorted([mail, text])
    eml = email.message_from_bytes(next(outbox.glob("*.eml")).read_bytes(), policy=email.policy.default)
    assert "2026-000123" in str(eml["Subject"]) and eml["To"] == "eleni@example.gr"
    sms = next(outbox.glob("*.sms.txt")).read_text()
    assert sms.startswith(("To: +306912345678", "To: 6912345678"))
    assert not list(outbox.glob(".*.part"))


def test_a_resend_after_a_crash_is_the_same_email_and_the_same_sms_reference(factory, smtp, sms_gateway):
    # The database died after the server accepted the notice and before it was marked sent:
    # the retry sends it again. Both copies carry one Message-ID / one gateway reference,
    # so a receiver that deduplicates keeps one.
    smtp.start()
    notice = _row(factory, _enqueue(factory))
    sender = _smtp_sender(smtp.port)
    for _ in range(2):
        sender.send(notice)
    sender.close()
    ids = [email.message_from_bytes(raw)["Message-ID"] for raw in smtp.mailbox.messages]
    assert len(ids) == 2 and ids[0] == ids[1] == f"<{notice.id}@chania.gr>"

    sms = _row(factory, _enqueue(factory, channel="sms", recipient="+30 691 234 5678"))
    gateway = HttpSmsSender(sms_gateway.url, "gw-token")
    for _ in range(2):
        gateway.send(sms)
    references = [request["json"]["reference"] for request in sms_gateway.received]
    assert references == [str(sms.id), str(sms.id)]
