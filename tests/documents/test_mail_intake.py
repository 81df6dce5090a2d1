"""Email intake over real SMTP on loopback: a message becomes a draft with its attachments and
the sender prefilled; confirming it registers ΕΙΣ; the same message delivered twice registers
once; a 30 MB attachment, malformed MIME, a program and a zip bomb are held with a reason and
nothing is registered."""

from __future__ import annotations

import io
import smtplib
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from engine.documents.mail import confirm_draft, drafts, prefilled
from engine.documents.models import DocumentAssignment, MailDraft
from engine.documents.registration import IncomingForm
from engine.documents.smtp import start_listener
from engine.protocol.models import ProtocolEntry
from engine.workflow.definitions import deploy_directory
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
