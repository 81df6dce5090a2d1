"""Drafts: body files checked by their bytes and opened (PDF, DOCX, ODT), versions kept
append-only with their SHA-256 and compared, an older one restored as a new version; who may
change a draft and when; the chain's rules (co-signers only where the type allows, saved
chains); follow-ups (ορθή επανάληψη linked both ways, reply to an incoming document); an email
retried after the SMTP server was down."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.documents.registration import register_incoming
from engine.outgoing.bodies import DOCX, ODT, PDF, check_body
from engine.outgoing.chain import StepSpec, approve, save_chain, saved_chains, steps_of, submit
from engine.outgoing.dispatch import send_due_emails
from engine.outgoing.drafts import (
    BodyInput,
    RecipientInput,
    create_draft,
    restore,
    save_body,
    set_recipients,
    versions,
)
from engine.outgoing.errors import BodyInvalid, DraftInvalid, NotYourTurn, WrongState
from engine.outgoing.followups import correct, derived_documents, reply_to_incoming
from engine.outgoing.models import OutgoingDocument, OutgoingRecipient, OutgoingRelated
from engine.outgoing.signature import sign_batch_remotely
from engine.protocol.models import ProtocolEntry
from engine.workflow.models import CaseTask
from signing.csc import CscService
from signing.two_step import TwoStepSigning
from storage.filesystem import FilesystemStore
from tests.documents.conftest import SCANNED_LETTER, letter
from tests.outgoing.conftest import Municipality, restored, run_services
from tests.signing.pkitools import ARCH

pytestmark = pytest.mark.usefixtures("handlers")


def _member(name: str) -> zipfile.ZipInfo:
    """A zip member with a fixed time: the same paragraphs make the same bytes (and SHA-256)
    whenever they are built, not only within one two-second tick of the zip clock."""
    return zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))


def docx(*paragraphs: str) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(_member("[Content_Types].xml"), "<Types/>")
        archive.writestr(
            _member("word/document.xml"),
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>",
        )
    return out.getvalue()


def odt(*paragraphs: str) -> bytes:
    body = "".join(f"<text:p>{p}</text:p>" for p in paragraphs)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(_member("mimetype"), ODT)
        archive.writestr(
            _member("content.xml"),
            '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
            ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
            f"{body}</office:text></office:body></office:document-content>",
        )
    return out.getvalue()


def test_body_files_are_known_by_their_bytes_and_opened() -> None:
    assert check_body(SCANNED_LETTER, "letter.pdf").media_type == PDF
    assert "flood protection" in check_body(SCANNED_LETTER, "letter.pdf").text
    assert check_body(docx("Πρώτη παράγραφος", "Δεύτερη"), "a.docx") == check_body(
        docx("Πρώτη παράγραφος", "Δεύτερη"), "a.docx"
    )
    assert check_body(docx("Πρώτη", "Δεύτερη"), "a.docx").text == "Πρώτη\nΔεύτερη"
    assert check_body(docx("x"), "a.docx").media_type == DOCX
    assert check_body(odt("Ένα", "Δύο"), "a.odt").text == "Ένα\nΔύο"
    with pytest.raises(BodyInvalid, match="not a PDF, DOCX or ODT"):
        check_body(b"MZ\x90\x00 a program", "letter.pdf")
    with pytest.raises(BodyInvalid, match="damaged"):
        check_body(b"%PDF-1.7\n this is not a PDF at all", "letter.pdf")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("photo.jpg", b"\xff\xd8")
    with pytest.raises(BodyInvalid, match="neither a Word"):
        check_body(zipped.getvalue(), "letter.docx")
    with pytest.raises(BodyInvalid, match="damaged"):
        check_body(b"PK\x03\x04 truncated", "letter.docx")
    with pytest.raises(BodyInvalid, match="empty"):
        check_body(b"", "letter.pdf")


def test_versions_are_kept_compared_and_restored_as_new_ones(
    db_session: Session, town: Municipality, object_store: FilesystemStore
) -> None:
    draft = create_draft(
        db_session,
        object_store,
        town.clerk_a,
        kind="decision",
        subject="Απόφαση για τη χορήγηση άδειας",
        body=BodyInput("apofasi.docx", docx("Αποφασίζουμε", "τη χορήγηση")),
    )
    save_body(
        db_session,
        object_store,
        draft,
        town.clerk_a,
        BodyInput("apofasi.odt", odt("Αποφασίζουμε", "την απόρριψη")),
    )
    with pytest.raises(BodyInvalid):
        save_body(db_session, object_store, draft, town.clerk_a, BodyInput("apofasi.pdf", b"not a document"))
    assert [v.number for v in versions(db_session, draft.id)] == [1, 2]  # the refused one left nothing
    back = restore(db_session, object_store, draft, town.clerk_a, 1)
    first, second, third = versions(db_session, draft.id)
    assert (third.number, third.restored_from, third.sha256, third.source) == (3, 1, first.sha256, "restore")
    assert first.sha256 == hashlib.sha256(docx("Αποφασίζουμε", "τη χορήγηση")).hexdigest()
    assert back.body_text == "Αποφασίζουμε\nτη χορήγηση" and second.media_type == ODT
    # Versions are records: the application's role may not change them.
    with pytest.raises(DBAPIError), db_session.begin_nested():
        db_session.execute(text("UPDATE outgoing_versions SET note = 'x' WHERE id = :id"), {"id": first.id})


def test_only_the_author_changes_a_draft_and_only_while_it_is_with_them(
    db_session: Session, town: Municipality, object_store: FilesystemStore
) -> None:
    draft = create_draft(
        db_session,
        object_store,
        town.clerk_a,
        kind="letter",
        subject="Έγγραφο",
        body=BodyInput(template_text="Κείμενο"),
    )
    with pytest.raises(NotYourTurn):
        save_body(db_session, object_store, draft, town.head_a, BodyInput(template_text="Άλλο"))
    with pytest.raises(DraftInvalid, match="recipient"):
        submit(db_session, draft.id, town.clerk_a)  # no recipients yet
    with pytest.raises(DraftInvalid, match="email"):
        set_recipients(
            db_session,
            draft,
            town.clerk_a,
            [RecipientInput("external", "Περιφέρεια", email="not-an-address")],
        )
    set_recipients(
        db_session, draft, town.clerk_a, [RecipientInput("post", "Πολίτης", postal_address="Οδός 2")]
    )
    submit(db_session, draft.id, town.clerk_a)
    with pytest.raises(WrongState):
        save_body(db_session, object_store, draft, town.clerk_a, BodyInput(template_text="Αλλαγή στη μέση"))


def test_co_signers_in_parallel_only_where_the_type_allows_and_saved_chains(
    db_session: Session, town: Municipality, object_store: FilesystemStore
) -> None:
    chain = [
        StepSpec(town.head_a.id, "sign", 1),
        StepSpec(town.head_b.id, "opinion", 1),
        StepSpec(town.mayor.id, "sign", 2),
    ]
    with pytest.raises(DraftInvalid, match="only decisions"):
        save_chain(db_session, town.clerk_a, "letter", "Με δύο", chain)
    saved = save_chain(db_session, town.clerk_a, "decision", "Απόφαση με γνώμη Προσωπικού", chain)
    assert [c.name for c in saved_chains(db_session, town.clerk_a, "decision")] == [saved.name]
    draft = create_draft(
        db_session,
        object_store,
        town.clerk_a,
        kind="decision",
        subject="Απόφαση",
        recipients=[RecipientInput("internal", "", unit_id=town.b.id)],
        body=BodyInput(template_text="Αποφασίζουμε."),
    )
    submit(db_session, draft.id, town.clerk_a, steps_of(saved))
    restored(db_session)
    approve(db_session, draft.id, town.head_b, comment="Σύμφωνη γνώμη.")
    restored(db_session)
    draft = db_session.get(OutgoingDocument, draft.id)
    assert draft is not None and draft.status == "in_chain"  # the co-signer of the stage is still to act
    approve(db_session, draft.id, town.head_a)
    restored(db_session)
    draft = db_session.get(OutgoingDocument, draft.id)
    assert draft is not None and draft.status == "to_sign"
    task = db_session.query(CaseTask).filter(CaseTask.case_id == draft.case_id).one()
    assert (task.bpmn_id, task.assignee_id) == ("sign", town.mayor.id)


def test_a_correction_is_registered_as_the_correction_of_the_original(
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    csc_url: str,
) -> None:
    def sign_and_send(document_id: object) -> OutgoingDocument:
        submit(db_session, document_id, town.clerk_a, [StepSpec(town.mayor.id)])  # type: ignore[arg-type]
        restored(db_session)
        sign_batch_remotely(
            db_session,
            object_store,
            signing,
            CscService(csc_url, f"{ARCH}/official"),
            [document_id],  # type: ignore[list-item]
            town.mayor,
            pin="1234",
            base_url="http://polis.test",
        )
        run_services(db_session)
        found = db_session.get(OutgoingDocument, document_id)
        assert found is not None and found.status == "sent"
        return found

    original = create_draft(
        db_session,
        object_store,
        town.clerk_a,
        kind="service_certificate",
        subject="Βεβαίωση υπηρεσίας",
        recipients=[RecipientInput("internal", "", unit_id=town.b.id)],
        body=BodyInput(template_text="Βεβαιώνεται ότι ο υπάλληλος υπηρετεί από το 2010."),
    )
    original = sign_and_send(original.id)
    fixed = correct(db_session, object_store, original.id, town.clerk_a)
    assert [d.id for d in derived_documents(db_session, original.id)] == [fixed.id]
    fixed = sign_and_send(fixed.id)
    old_entry = db_session.get(ProtocolEntry, original.entry_id)
    new_entry = db_session.get(ProtocolEntry, fixed.entry_id)
    assert old_entry is not None and new_entry is not None
    assert new_entry.corrects_id == old_entry.id and new_entry.display_number != old_entry.display_number


def test_a_reply_to_an_incoming_document_starts_from_the_template(
    db_session: Session, town: Municipality, object_store: FilesystemStore
) -> None:
    incoming = register_incoming(
        db_session, object_store, letter(for_action=(town.a.id,)), registered_by=town.registrar
    )
    draft = reply_to_incoming(db_session, object_store, incoming.id, town.clerk_a)
    (related,) = db_session.query(OutgoingRelated).filter(OutgoingRelated.document_id == draft.id).all()
    assert related.reply_to and related.entry_id == incoming.entry_id
    (first,) = versions(db_session, draft.id)
    assert first.source == "template" and first.body_text.startswith("Σε απάντηση")


def test_an_email_is_retried_after_the_smtp_server_was_down(
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    csc_url: str,
    smtp: SimpleNamespace,
    outgoing_settings: object,
) -> None:
    draft = create_draft(
        db_session,
        object_store,
        town.clerk_a,
        kind="letter",
        subject="Έγγραφο με email",
        recipients=[RecipientInput("external", "Υπουργείο", email="grammateia@ministry.example.gr")],
        body=BodyInput(template_text="Κείμενο."),
    )
    submit(db_session, draft.id, town.clerk_a, [StepSpec(town.mayor.id)])
    restored(db_session)
    sign_batch_remotely(
        db_session,
        object_store,
        signing,
        CscService(csc_url, f"{ARCH}/official"),
        [draft.id],
        town.mayor,
        pin="1234",
        base_url="http://polis.test",
    )
    run_services(db_session)  # nothing listens yet
    (recipient,) = db_session.query(OutgoingRecipient).filter(OutgoingRecipient.document_id == draft.id).all()
    assert (recipient.delivery, recipient.attempts) == ("pending", 1) and recipient.last_error
    draft = db_session.get(OutgoingDocument, draft.id)
    assert draft is not None and draft.status == "registered"
    smtp.start()
    assert send_due_emails(db_session, object_store, outgoing_settings) == 0  # not due yet  # type: ignore[arg-type]
    with time_machine.travel(utcnow() + timedelta(minutes=5), tick=False):
        assert send_due_emails(db_session, object_store, outgoing_settings) == 1  # type: ignore[arg-type]
    restored(db_session)
    recipient = db_session.get(OutgoingRecipient, recipient.id)
    assert recipient is not None and (recipient.delivery, recipient.attempts) == ("sent", 2)
    assert len(smtp.mailbox.messages) == 1
    draft = db_session.get(OutgoingDocument, draft.id)
    assert draft is not None and draft.status == "sent"
