"""Email intake over real SMTP on loopback: a message becomes a draft with its attachments and
the sender prefilled; confirming it registers ΕΙΣ; the same message delivered twice registers
once; a 30 MB attachment, malformed MIME, a program and a zip bomb are held with a reason and
nothing is registered; held mail is kept whole for a person, once; a χρέωση to a unit the
organisation chart closed leaves the draft for the office; filing without a reason changes nothing."""

from __future__ import annotations

import hashlib
import io
import smtplib
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from engine.documents.errors import AlreadyHandled, DocumentInvalid, UnknownUnit
from engine.documents.folders import registration_choices
from engine.documents.handling import file_document
from engine.documents.mail import confirm_draft, drafts, prefilled
from engine.documents.models import DocumentAssignment, MailDraft
from engine.documents.registration import IncomingForm
from engine.documents.smtp import start_listener
from engine.people.models import Department
from engine.protocol.models import ProtocolEntry
from engine.workflow.definitions import deploy_directory
from engine.workflow.models import CaseTask
from storage.filesystem import FilesystemStore
from tests.documents.conftest import SCANNED_LETTER, make_town
from tests.storage.conftest import free_port


@pytest.fixture
def intake(fresh_db_url: str, tmp_path: Path) -> Iterator[SimpleNamespace]:
    engine = create_engine(fresh_db_url, pool_size=5)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as session:
        deploy_directory(session)
        town = make_town(session)
    store = FilesystemStore(tmp_path / "objects", secret="s" * 32, base_url="http://polis.test")
    port = free_port()
    listener = start_listener(factory, store, "127.0.0.1", port)
    try:
        yield SimpleNamespace(factory=factory, store=store, port=port, town=town)
    finally:
        listener.stop()
        engine.dispose()


def letter(message_id: str = "<circular-17@region.example>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Περιφέρεια Κρήτης <protocol@region.example>"
    message["To"] = "protocol@demo-municipality.example"
    message["Subject"] = "Εγκύκλιος για την αντιπυρική περίοδο"
    message["Message-ID"] = message_id
    message.set_content("Σας αποστέλλουμε την εγκύκλιο. Παρακαλούμε για τις ενέργειές σας.")
    message.add_attachment(SCANNED_LETTER, maintype="application", subtype="pdf", filename="egkyklios.pdf")
    return message


def send(port: int, raw: bytes | EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        if isinstance(raw, EmailMessage):
            client.send_message(raw)
        else:
            client.sendmail("sender@example.org", ["protocol@demo-municipality.example"], raw)


def test_a_message_becomes_a_draft_and_confirming_it_registers_once(intake: SimpleNamespace) -> None:
    send(intake.port, letter())
    send(intake.port, letter())  # the MTA delivered it twice
    with intake.factory.begin() as session:
        (draft,) = drafts(session)
        assert draft.status == "draft" and len(draft.raw_sha256) == 64
        assert [a["filename"] for a in draft.attachments] == ["egkyklios.pdf"]
        assert "εγκύκλιο" in (draft.body_text or "")
        form = prefilled(draft)
        assert form["sender"] == "Περιφέρεια Κρήτης <protocol@region.example>"
        assert form["subject"] == "Εγκύκλιος για την αντιπυρική περίοδο"
        draft_id = draft.id
    confirmed = IncomingForm(
        subject=form["subject"],
        sender=form["sender"],
        document_type="circular",
        for_action=(intake.town.a.department.id,),
    )
    for _ in range(2):  # a double click on "confirm"
        with intake.factory.begin() as session:
            document = confirm_draft(
                session, intake.store, draft_id, confirmed, confirmed_by=session.merge(intake.town.registrar)
            )
            document_id = document.id
    with intake.factory.begin() as session:
        entries = session.scalars(select(ProtocolEntry).where(ProtocolEntry.direction == "ΕΙΣ")).all()
        assert len(entries) == 1
        entry = entries[0]
        assert entry.delivery_method == "email" and entry.sender == form["sender"]
        assert [f.filename for f in entry.files] == ["message.eml", "egkyklios.pdf"]
        assert session.get(MailDraft, draft_id).document_id == document_id
        assert session.scalar(select(func.count()).select_from(DocumentAssignment)) == 1


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.txt", b"\0" * (150 * 1024 * 1024))
    return buffer.getvalue()


def _with_attachment(
    message_id: str, data: bytes, filename: str, subtype: str = "octet-stream"
) -> EmailMessage:
    message = letter(message_id)
    message.add_attachment(data, maintype="application", subtype=subtype, filename=filename)
    return message


def test_bad_messages_are_held_with_a_reason_and_nothing_is_registered(intake: SimpleNamespace) -> None:
    send(
        intake.port, _with_attachment("<big@x>", b"%PDF-1.4\n" + b"0" * (30 * 1024 * 1024), "scan.pdf", "pdf")
    )
    send(intake.port, _with_attachment("<exe@x>", b"MZ\x90\x00" + b"\0" * 2000, "invoice.pdf"))
    send(intake.port, _with_attachment("<bomb@x>", _zip_bomb(), "documents.zip", "zip"))
    malformed = (
        b"From: someone@example.org\r\nMessage-ID: <broken@x>\r\nSubject: broken\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    )  # the closing boundary never comes
    send(intake.port, malformed)
    with intake.factory.begin() as session:
        held = {d.message_id: d.hold_reason for d in drafts(session, status="held")}
        assert drafts(session) == []
        assert session.scalar(select(func.count()).select_from(ProtocolEntry)) == 0
    assert "larger than the 25 MB" in held["<big@x>"]
    assert "a program" in held["<exe@x>"]
    assert "zip bomb" in held["<bomb@x>"]
    assert "malformed MIME" in held["<broken@x>"]


def test_held_mail_is_kept_whole_for_a_person_and_kept_once(intake: SimpleNamespace) -> None:
    bomb = _with_attachment("<bomb-twice@x>", _zip_bomb(), "documents.zip", "zip")
    raw = bomb.as_bytes(policy=SMTP)
    send(intake.port, raw)
    send(intake.port, raw)  # the MTA retried
    no_id = b"From: someone@example.org\r\nSubject: no id\r\n\r\nhello\r\n"  # no Message-ID at all
    send(intake.port, no_id)
    send(intake.port, no_id)
    with intake.factory.begin() as session:
        held = drafts(session, status="held")
        assert [d.message_id for d in held] == ["<bomb-twice@x>"]
        (kept,) = held
        with intake.store.open(kept.raw_key) as reader:
            stored = reader.read()
        # What the person looks at is the message as received (the SMTP client may add headers).
        assert hashlib.sha256(stored).hexdigest() == kept.raw_sha256 and stored.endswith(
            raw.rstrip(b"\r\n") + b"\r\n"
        )
        assert kept.attachments == []  # nothing of a held message is offered for registration
        assert len([d for d in drafts(session) if d.subject == "no id"]) == 1
        # Confirming a held message is refused: a person must look at it first.
        with pytest.raises(AlreadyHandled):
            confirm_draft(
                session,
                intake.store,
                kept.id,
                IncomingForm(subject="x", sender="y", document_type="letter"),
                confirmed_by=session.merge(intake.town.registrar),
            )
    with intake.factory.begin() as session:
        assert session.scalar(select(func.count()).select_from(ProtocolEntry)) == 0


def test_the_same_message_delivered_twice_at_once_is_one_draft(intake: SimpleNamespace) -> None:
    raw = letter("<twice-at-once@x>").as_bytes(policy=SMTP)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: send(intake.port, raw), range(2)))
    with intake.factory.begin() as session:
        assert [d.message_id for d in drafts(session)] == ["<twice-at-once@x>"]


def test_a_chreosi_to_a_unit_that_no_longer_exists_leaves_the_draft_for_the_office(
    intake: SimpleNamespace,
) -> None:
    send(intake.port, letter("<closed-unit@x>"))
    with intake.factory.begin() as session:
        (draft,) = drafts(session)
        draft_id = draft.id
        # The organisation chart closed unit B (an import deactivates units no longer in it).
        session.get(Department, intake.town.b.department.id).is_active = False
    form = IncomingForm(
        subject="Εγκύκλιος",
        sender="Περιφέρεια Κρήτης",
        document_type="circular",
        for_action=(intake.town.a.department.id, intake.town.b.department.id),
    )
    with pytest.raises(UnknownUnit, match="no longer exists"), intake.factory.begin() as session:
        confirm_draft(
            session, intake.store, draft_id, form, confirmed_by=session.merge(intake.town.registrar)
        )
    with intake.factory.begin() as session:
        assert session.get(MailDraft, draft_id).status == "draft"  # still there to confirm
        assert session.scalar(select(func.count()).select_from(ProtocolEntry)) == 0
        assert intake.town.b.department.id not in {
            unit.id for unit in registration_choices(session)["units"]
        }  # and the page no longer offers it
    with intake.factory.begin() as session:
        document = confirm_draft(
            session,
            intake.store,
            draft_id,
            replace(form, for_action=(intake.town.a.department.id,)),
            confirmed_by=session.merge(intake.town.registrar),
        )
        assert document.source == "email"
    with intake.factory.begin() as session:
        assert session.scalar(select(func.count()).select_from(ProtocolEntry)) == 1


def test_filing_a_mailed_document_without_a_reason_is_refused_and_nothing_changes(
    intake: SimpleNamespace,
) -> None:
    send(intake.port, letter("<to-file@x>"))
    town = intake.town
    with intake.factory.begin() as session:
        (draft,) = drafts(session)
        document = confirm_draft(
            session,
            intake.store,
            draft.id,
            IncomingForm(
                subject="Εγκύκλιος",
                sender="Περιφέρεια",
                document_type="circular",
                for_action=(town.a.department.id,),
            ),
            confirmed_by=session.merge(town.registrar),
        )
        head_task = session.scalars(
            select(CaseTask).where(CaseTask.department_id == town.a.department.id, CaseTask.role == "head")
        ).one()
        task_id, document_id = head_task.task_id, document.id
    for reason in ("", "   "):
        with pytest.raises(DocumentInvalid, match="reason"), intake.factory.begin() as session:
            file_document(session, task_id, reason, "03.01", session.merge(town.a.head))
    with intake.factory.begin() as session:
        (assignment,) = session.scalars(
            select(DocumentAssignment).where(DocumentAssignment.document_id == document_id)
        ).all()
        assert (assignment.state, assignment.reason) == ("open", None)
        assert session.get(CaseTask, task_id) is not None
