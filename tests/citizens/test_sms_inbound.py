"""The SMS gateway's inbound webhook: ΔΥ ΧΑ <text> opens a request, ΔΥ ΧΑ1 <number> asks its status."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.domains import load_domains
from engine.notifications.models import Notification
from engine.people.models import Department, User
from engine.protocol.models import ProtocolEntry
from engine.requests.handlers import configure_handlers, reset_handlers
from engine.requests.sms import national_number, parse_command
from engine.workflow.commands import complete_task
from engine.workflow.models import Case, CaseTask
from engine.workflow.timers import fire_due_wakeups_in
from storage.filesystem import FilesystemStore
from tests.citizens.conftest import SMS_SECRET

URL = "/api/v1/sms/inbound"
PHONE = "+306912345678"


def sms(client: Any, text: str, sender: str = PHONE, **extra: Any) -> Any:
    body = {"from": sender, "text": text} | extra
    return client.post(URL, json=body, headers={"X-Polis-SMS-Secret": SMS_SECRET})


def outbox(session: Session, phone: str = "6912345678") -> list[Notification]:
    rows = session.scalars(
        select(Notification)
        .where(Notification.channel == "sms", Notification.recipient.in_([phone, f"+30{phone}"]))
        # created_at is the transaction's start (the same for the whole test); this is the enqueue time.
        .order_by(Notification.next_attempt_at)
    )
    return list(rows)


@pytest.mark.parametrize(
    ("text", "kind", "argument"),
    [
        ("ΔΥ ΧΑ Σπασμένο φανάρι", "submit", "Σπασμένο φανάρι"),
        ("δυ χα σπασμένο φανάρι", "submit", "σπασμένο φανάρι"),
        ("ΔΎ ΧΆ  λακκούβα\nστην Κύπρου", "submit", "λακκούβα στην Κύπρου"),
        ("DY XA broken street light", "submit", "broken street light"),
        ("dy cha pothole", "submit", "pothole"),
        ("ΔΥ ΧΑ1 2026/000042", "status", "2026/000042"),
        ("dy xa1 AbCdEfGhIjKlMnOpQrStUvWx", "status", "AbCdEfGhIjKlMnOpQrStUvWx"),
        ("ΔΥΧΑ1 2026/7", "status", "2026/7"),
        ("Dy Xa1", "status", ""),
        ("ΓΕΙΑ ΣΑΣ", "unknown", "ΓΕΙΑ ΣΑΣ"),
        ("DYXAB test", "unknown", "DYXAB test"),
        ("", "unknown", ""),
    ],
)
def test_commands_in_greek_and_latin(text: str, kind: str, argument: str) -> None:
    command = parse_command(text)
    assert (command.kind, command.argument) == (kind, argument)


def test_national_number() -> None:
    assert {
        national_number(p) for p in ("+306912345678", "00306912345678", "306912345678", "691 234 5678")
    } == {"6912345678"}


def test_bad_or_missing_secret_is_refused(citizen_client: Any, municipality: Session) -> None:
    body = {"from": PHONE, "text": "ΔΥ ΧΑ φανάρι"}
    assert citizen_client.post(URL, json=body).status_code == 401
    wrong = citizen_client.post(URL, json=body, headers={"X-Polis-SMS-Secret": "guess"})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "unauthorized"
    bad_signature = citizen_client.post(URL, json=body, headers={"X-Polis-SMS-Signature": "00" * 32})
    assert bad_signature.status_code == 401
    assert municipality.scalars(select(Case).where(Case.process_id == "general_request")).all() == []


def test_signed_body_is_accepted(citizen_client: Any, municipality: Session) -> None:
    raw = json.dumps({"from": PHONE, "text": "βοήθεια"}).encode()
    signature = hmac.new(SMS_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    answer = citizen_client.post(
        URL,
        data=raw,
        content_type="application/json",
        headers={"X-Polis-SMS-Signature": f"sha256={signature}"},
    )
    assert answer.status_code == 200 and answer.get_json()["action"] == "help"


def test_webhook_off_without_a_secret(app: Any, municipality: Session) -> None:
    app.extensions["polis"].settings = app.extensions["polis"].settings.model_copy(
        update={"sms_inbound_secret": None}
    )
    answer = app.test_client().post(
        URL, json={"from": PHONE, "text": "x"}, headers={"X-Polis-SMS-Secret": "x"}
    )
    assert answer.status_code == 503 and "POLIS_SMS_INBOUND_SECRET" in answer.get_json()["message"]


def test_new_request_by_sms_then_its_status(citizen_client: Any, municipality: Session) -> None:
    answer = sms(citizen_client, "ΔΥ ΧΑ Σπασμένο φανάρι στην οδό Κύπρου 12", message_id="7")
    assert answer.status_code == 200, answer.get_json()
    result = answer.get_json()
    assert result["action"] == "submitted" and result["replayed"] is False
    case = municipality.scalars(select(Case).where(Case.number == result["case_number"])).one()
    assert case.process_id == "general_request" and case.status == "active"
    assert case.data["channel"] == "sms"
    assert case.data["form"] == {"text": "Σπασμένο φανάρι στην οδό Κύπρου 12", "phone": "6912345678"}
    assert case.applicant["phone"] == "6912345678" and case.applicant["channel"] == "sms"
    entry = municipality.get(ProtocolEntry, case.data["protocol_in"]["entry_id"])
    assert entry is not None and entry.display_number == result["protocol_number"]
    [received] = outbox(municipality)
    assert received.template_key == "request_received" and received.case_id == case.id
    assert case.number in received.body_text

    # The gateway delivers the same message again: no second case, no second SMS.
    retried = sms(citizen_client, "ΔΥ ΧΑ Σπασμένο φανάρι στην οδό Κύπρου 12", message_id="7")
    assert retried.get_json()["replayed"] is True and retried.get_json()["case_number"] == case.number
    assert len(outbox(municipality)) == 1

    status = sms(citizen_client, f"δυ χα1 {case.number}", sender="6912345678")
    assert status.status_code == 200 and status.get_json()["action"] == "status"
    reply = outbox(municipality)[-1]
    assert reply.template_key == "sms_reply" and reply.case_id == case.id
    # One SMS: Greek in GSM capitals (fit_sms) so that the status line fits 160 characters.
    assert case.number in reply.body_text and "ΓENIKO AITHMA" in reply.body_text
    assert reply.body_text == status.get_json()["reply"]

    by_code = sms(citizen_client, f"DY XA1 {case.tracking_code}")
    assert by_code.get_json()["case_number"] == case.number


def test_status_of_someone_elses_case_reveals_nothing(citizen_client: Any, municipality: Session) -> None:
    number = sms(citizen_client, "ΔΥ ΧΑ λακκούβα").get_json()["case_number"]
    stranger = sms(citizen_client, f"ΔΥ ΧΑ1 {number}", sender="+306987654321")
    unknown = sms(citizen_client, "ΔΥ ΧΑ1 1999/123456", sender="+306987654321")
    assert stranger.get_json()["reply"] == unknown.get_json()["reply"]
    assert stranger.get_json()["case_number"] is None
    assert [n.template_key for n in outbox(municipality, "6987654321")] == ["sms_reply", "sms_reply"]


def test_unknown_command_gets_help(citizen_client: Any, municipality: Session) -> None:
    greek = sms(citizen_client, "Καλησπέρα, πότε μαζεύονται τα σκουπίδια;").get_json()
    assert greek["action"] == "help" and "ΔΥ ΧΑ1" in greek["reply"]
    latin = sms(citizen_client, "hello").get_json()
    assert latin["action"] == "help" and "DY XA1" in latin["reply"]
    empty = sms(citizen_client, "ΔΥ ΧΑ").get_json()
    assert empty["action"] == "help"
    assert [n.template_key for n in outbox(municipality)] == ["sms_reply"] * 3
    assert municipality.scalars(select(Case).where(Case.process_id == "general_request")).all() == []


def test_bad_sender_is_refused(citizen_client: Any, municipality: Session) -> None:
    answer = sms(citizen_client, "ΔΥ ΧΑ φανάρι", sender="not a phone")
    assert answer.status_code == 422 and "'from'" in answer.get_json()["message"]


@pytest.fixture
def handlers(test_settings: Settings, object_store: FilesystemStore) -> Iterator[None]:
    load_domains()
    configure_handlers(settings=test_settings, store=object_store)
    yield
    reset_handlers()


def test_the_answer_reaches_the_sms_citizen(
    citizen_client: Any, municipality: Session, handlers: None
) -> None:
    number = sms(citizen_client, "ΔΥ ΧΑ Πότε περνά το απορριμματοφόρο;").get_json()["case_number"]
    case = municipality.scalars(select(Case).where(Case.number == number)).one()
    prot = municipality.scalars(select(Department).where(Department.code == "PROT")).one()
    clerk = User(
        username=f"clerk-{case.id.hex[:6]}", full_name="Υπάλληλος", department_id=prot.id, roles=["clerk"]
    )
    municipality.add(clerk)
    municipality.flush()
    task = municipality.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).one()
    complete_task(municipality, task.task_id, {"decision": "reply", "reply": "Κάθε Τρίτη βράδυ."}, clerk)
    while fire_due_wakeups_in(municipality):
        pass
    municipality.expire_all()
    [answer] = [n for n in outbox(municipality) if n.template_key == "request_answered"]
    assert "Κάθε Τρίτη βράδυ." in answer.body_text
    status = sms(citizen_client, f"ΔΥ ΧΑ1 {number}").get_json()
    assert status["action"] == "status" and status["reply"].endswith(": Ολοκληρώθηκε.")
