"""The signatory's qualified signature on outgoing documents: a batch through the CSC dummy in
one authorisation, the external-signer path, and what is refused or waits — a signature that
does not match, unfit certificates, the TSA down (at signing and at registration), a signatory
taken out of the chain. Signed documents verify with openssl and offline as PAdES B-LT."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.issuing.registry import lookup
from engine.outgoing.chain import StepSpec, submit
from engine.outgoing.drafts import BodyInput, RecipientInput, create_draft
from engine.outgoing.errors import NotYourTurn
from engine.outgoing.models import OutgoingDocument
from engine.outgoing.signature import (
    begin_external,
    finish_external_signature,
    finish_waiting,
    sign_batch_remotely,
)
from engine.protocol.models import ProtocolEntry
from signing.csc import CscService
from signing.errors import SignatureMismatch, SignerCertificateError
from signing.remote_signers import sign_digest_with_key
from signing.two_step import TwoStepSigning
from signing.verify import Verdict, verify
from storage.filesystem import FilesystemStore
from tests.outgoing.conftest import Municipality, restored, run_services
from tests.signing.pkitools import ARCH, TestPki, openssl_verify_all

pytestmark = pytest.mark.usefixtures("handlers")
BASE = "http://polis.test"


def waiting_for_the_mayor(
    session: Session, store: FilesystemStore, town: Municipality, subject: str
) -> OutgoingDocument:
    """A letter whose chain is the mayor alone, submitted: it waits for the signature."""
    draft = create_draft(
        session,
        store,
        town.clerk_a,
        kind="letter",
        subject=subject,
        recipients=[RecipientInput("post", "Ιωάννης Πολίτης", postal_address="Οδός 1, Χανιά")],
        body=BodyInput(template_text=f"{subject}.\nΜε εκτίμηση."),
    )
    submit(session, draft.id, town.clerk_a, [StepSpec(town.mayor.id)])
    restored(session)
    document = session.get(OutgoingDocument, draft.id)
    assert document is not None and document.status == "to_sign"
    return document


def final_pdf(store: FilesystemStore, document: OutgoingDocument) -> bytes:
    reader = store.open(document.final_key, expected_sha256=document.final_sha256)
    try:
        return reader.read()
    finally:
        reader.close()


def assert_signed_and_stamped(
    session: Session, store: FilesystemStore, document: OutgoingDocument, pki: TestPki
) -> None:
    """Registered ΕΞ, the official's B-LT signature and the registration seal both valid."""
    assert document.status == "sent" and document.entry_id is not None
    pdf = final_pdf(store, document)
    report = verify(pdf, [pki.root], allow_fetching=False)
    assert report.verdict is Verdict.VALID, report.reason
    by_field = {s.field_name: s for s in report.signatures}
    assert by_field["PolisSignature1"].level == "B-LT"
    assert by_field["PolisSignature1"].signer_name == "Μαρία Παπαδοπούλου"  # the certificate's name
    assert by_field["PolisRegistration"].level == "B-LT"
    assert openssl_verify_all(pdf, pki.root_pem) == 2
    issued = lookup(session, document.verification_code or "")
    assert issued is not None and issued.signer_name == "Μαρία Παπαδοπούλου"


def test_two_documents_batch_signed_in_one_authorisation_get_their_numbers(
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    csc_url: str,
    pki: TestPki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = waiting_for_the_mayor(db_session, object_store, town, "Πρώτο έγγραφο")
    second = waiting_for_the_mayor(db_session, object_store, town, "Δεύτερο έγγραφο")
    calls: list[tuple[str, int]] = []
    real_call = CscService._call

    async def counting(self: CscService, http: Any, method: str, body: dict[str, Any]) -> Any:
        calls.append((method, len(body.get("hash", []))))
        return await real_call(self, http, method, body)

    monkeypatch.setattr(CscService, "_call", counting)
    result = sign_batch_remotely(
        db_session,
        object_store,
        signing,
        CscService(csc_url, f"{ARCH}/official"),
        [first.id, second.id],
        town.mayor,
        pin="1234",
        otp="123456",
        base_url=BASE,
    )
    assert sorted(result.signed) == sorted([first.id, second.id]) and not result.refused
    assert [c for c in calls if c[0] != "credentials/info"] == [
        ("credentials/authorize", 2),
        ("signatures/signHash", 2),
    ]
    run_services(db_session)
    numbers = set()
    for document_id in (first.id, second.id):
        document = db_session.get(OutgoingDocument, document_id)
        assert document is not None
        assert_signed_and_stamped(db_session, object_store, document, pki)
        entry = db_session.get(ProtocolEntry, document.entry_id)
        assert entry is not None and entry.direction == "ΕΞ"
        numbers.add(entry.display_number)
    assert len(numbers) == 2


def test_external_signer_path_signs_registers_and_verifies(
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    pki: TestPki,
) -> None:
    document = waiting_for_the_mayor(db_session, object_store, town, "Έγγραφο με εξωτερική υπογραφή")
    package = begin_external(
        db_session,
        object_store,
        signing,
        document.id,
        town.mayor,
        pki.pki.cert("official").dump(),
        [c.dump() for c in pki.pki.chain("official")],
        base_url=BASE,
    )
    restored(db_session)
    key = load_pem_private_key(pki.pki.private_key_pem("official"), None)
    value = sign_digest_with_key(key)(base64.b64decode(package["digest_to_sign"]), "sha256")
    assert isinstance(value, bytes)
    finish_external_signature(
        db_session,
        object_store,
        signing,
        document.id,
        town.mayor,
        {"signature_value": base64.b64encode(value).decode()},
    )
    run_services(db_session)
    document = db_session.get(OutgoingDocument, document.id)
    assert document is not None
    assert_signed_and_stamped(db_session, object_store, document, pki)


def test_a_signature_by_another_key_is_refused_and_the_document_keeps_waiting(
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    pki: TestPki,
) -> None:
    document = waiting_for_the_mayor(db_session, object_store, town, "Λάθος υπογραφή")
    package = begin_external(
        db_session,
        object_store,
        signing,
        document.id,
        town.mayor,
        pki.pki.cert("official").dump(),
        [c.dump() for c in pki.pki.chain("official")],
        base_url=BASE,
    )
    wrong = load_pem_private_key(pki.pki.private_key_pem("official-expired"), None)
    value = sign_digest_with_key(wrong)(base64.b64decode(package["digest_to_sign"]), "sha256")
    assert isinstance(value, bytes)
    with pytest.raises(SignatureMismatch):
        finish_external_signature(
            db_session,
            object_store,
            signing,
            document.id,
            town.mayor,
            {"signature_value": base64.b64encode(value).decode()},
        )
    restored(db_session)
    document = db_session.get(OutgoingDocument, document.id)
    assert document is not None and (document.status, document.signed_key, document.entry_id) == (
        "to_sign",
        None,
        None,
    )
    assert document.pending_signature is not None  # the right signature can still come


@pytest.mark.parametrize(
    ("label", "words"),
    [("official-expired", "valid only from"), ("official-revoked", "revoked"), ("signer", "qualified")],
)
def test_unfit_certificates_are_refused_before_the_hash_is_handed_out(
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    pki: TestPki,
    label: str,
    words: str,
) -> None:
    document = waiting_for_the_mayor(db_session, object_store, town, f"Πιστοποιητικό {label}")
    with pytest.raises(SignerCertificateError, match=words):
        begin_external(
            db_session,
            object_store,
            signing,
            document.id,
            town.mayor,
            pki.pki.cert(label).dump(),
            [c.dump() for c in pki.pki.chain(label)],
            base_url=BASE,
        )
    restored(db_session)
    document = db_session.get(OutgoingDocument, document.id)
    assert document is not None and document.pending_signature is None and document.status == "to_sign"


def test_tsa_down_while_signing_leaves_the_documents_waiting_then_finishes_without_a_pin(
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    csc_url: str,
    pki: TestPki,
) -> None:
    document = waiting_for_the_mayor(db_session, object_store, town, "Χωρίς χρονοσήμανση")
    pki.server.down = {"tsa"}
    result = sign_batch_remotely(
        db_session,
        object_store,
        signing,
        CscService(csc_url, f"{ARCH}/official"),
        [document.id],
        town.mayor,
        pin="1234",
        base_url=BASE,
    )
    assert list(result.waiting) == [document.id] and not result.signed
    run_services(db_session)
    document = db_session.get(OutgoingDocument, document.id)
    assert document is not None and (document.status, document.entry_id) == ("to_sign", None)
    pki.server.down = set()
    assert finish_waiting(db_session, object_store, signing, document.id)
    run_services(db_session)
    document = db_session.get(OutgoingDocument, document.id)
    assert document is not None
    assert_signed_and_stamped(db_session, object_store, document, pki)


def test_tsa_down_at_registration_registers_nothing_until_it_is_back(
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    csc_url: str,
    pki: TestPki,
) -> None:
    from datetime import timedelta

    import time_machine

    document = waiting_for_the_mayor(db_session, object_store, town, "Καταχώριση αργότερα")
    sign_batch_remotely(
        db_session,
        object_store,
        signing,
        CscService(csc_url, f"{ARCH}/official"),
        [document.id],
        town.mayor,
        pin="1234",
        base_url=BASE,
    )
    before = db_session.scalar(select(func.count()).select_from(ProtocolEntry))
    pki.server.down = {"tsa"}
    run_services(db_session)
    document = db_session.get(OutgoingDocument, document.id)
    assert document is not None and (document.status, document.entry_id) == ("signed", None)
    assert db_session.scalar(select(func.count()).select_from(ProtocolEntry)) == before
    pki.server.down = set()
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=False):
        run_services(db_session)
    document = db_session.get(OutgoingDocument, document.id)
    assert document is not None
    assert_signed_and_stamped(db_session, object_store, document, pki)


def test_a_signatory_disabled_while_the_document_waits_signs_nothing(
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    csc_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = waiting_for_the_mayor(db_session, object_store, town, "Αποχώρησε ο υπογράφων")
    town.mayor.is_active = False
    db_session.flush()
    asked: list[str] = []
    monkeypatch.setattr(CscService, "sign_hashes", lambda self, *a, **k: asked.append("sign") or [])
    result = sign_batch_remotely(
        db_session,
        object_store,
        signing,
        CscService(csc_url, f"{ARCH}/official"),
        [document.id],
        town.mayor,
        pin="1234",
        base_url=BASE,
    )
    assert "no longer its signatory" in result.refused[document.id]
    assert asked == [] and not result.signed
    with pytest.raises(NotYourTurn):
        begin_external(db_session, object_store, signing, document.id, town.mayor, b"unused", base_url=BASE)
    restored(db_session)
    document = db_session.get(OutgoingDocument, document.id)
    assert document is not None and (document.status, document.signed_key) == ("to_sign", None)
