"""The signatory's qualified signature (PAdES B-LT, visible, name and title in Greek) through
signing.two_step: remote signing (CSC, PIN/OTP, several documents in one authorisation) or an
external signer (download the hash, upload the signature, same pending signature).

Before any hash leaves, the signatory must still hold the chain's current signing step
(removed from the chain or deactivated: refused) and the certificate is checked (qualified,
not expired or revoked: signing.two_step). The signature reserves the field where the e-seal
later stamps the protocol number (engine.issuing.registration). When the TSA or OCSP responder
is down after the service signed, the signature values are kept with the document and it
waits; :func:`finish_waiting` completes it later without a new PIN. Nothing is registered
until a document is completely signed.
"""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import PolisError, ServiceUnavailable
from core.settings import Settings
from engine.issuing.registry import new_verification_code, verification_path
from engine.outgoing.bodies import PDF, render_pdf
from engine.outgoing.chain import give_task, may_act_for, open_task, signatory_step
from engine.outgoing.drafts import get_document, latest_version, letterhead
from engine.outgoing.errors import NotYourTurn, OutgoingNotFound, SigningDeferred, WrongState
from engine.outgoing.history import record
from engine.outgoing.models import OutgoingDocument, OutgoingStatus, StepState
from engine.people.models import User
from engine.workflow.commands import complete_task
from signing.config import official_signing_for
from signing.csc import CscService
from signing.external import finish_external, to_be_signed
from signing.stamp import SIGNATURE_TEXT, Stamp
from signing.two_step import PendingSignature, ReservedField, TwoStepSigning
from storage import ObjectStore
from storage.records import store_file


@dataclass
class BatchResult:
    """What happened to each document of a batch: signed, waiting (TSA down) or refused, and why."""

    signed: list[uuid.UUID] = field(default_factory=list)
    waiting: dict[uuid.UUID, str] = field(default_factory=dict)
    refused: dict[uuid.UUID, str] = field(default_factory=dict)


def documents_to_sign(session: Session, user: User) -> list[OutgoingDocument]:
    """The documents waiting for this person's signature (or their substitute's)."""
    waiting = session.scalars(
        select(OutgoingDocument)
        .where(OutgoingDocument.status == OutgoingStatus.TO_SIGN.value)
        .order_by(OutgoingDocument.created_at)
    )
    return [d for d in waiting if _signer_may_sign(session, d, user)]


def _signer_may_sign(session: Session, document: OutgoingDocument, user: User) -> bool:
    step = signatory_step(session, document)
    return step is not None and step.state == StepState.CURRENT.value and may_act_for(session, user, step)


def _check_signer(session: Session, document: OutgoingDocument, user: User) -> None:
    if document.status != OutgoingStatus.TO_SIGN.value:
        raise WrongState(f"«{document.subject}» is not waiting for a signature now; refresh the page.")
    if not _signer_may_sign(session, document, user):
        raise NotYourTurn(
            f"«{document.subject}» is not waiting for your signature: you are no longer its signatory"
            " (removed from the chain, or your account was disabled). Nothing was signed."
        )


def signature_stamp(
    session: Session, document: OutgoingDocument, signer: User, code: str, base_url: str
) -> Stamp:
    """The visible signature: the signatory's name and title in Greek, the verification code."""
    head = letterhead(session, document, signer)
    return Stamp(
        base_url.rstrip("/") + verification_path(code),
        code,
        signer_name=signer.full_name,
        text=SIGNATURE_TEXT,
        details=(("title", head.signatory_title or "—"),),
    )


def signable_pdf(session: Session, store: ObjectStore, document: OutgoingDocument, signer: User) -> bytes:
    """The PDF the signatory signs: an uploaded PDF as it is; a body written from the template
    or uploaded as DOCX/ODT printed with the type's template, now naming the signatory."""
    current = latest_version(session, document.id)
    if current is None:
        raise OutgoingNotFound("The draft has no body to sign; the author must save one.")
    if current.media_type == PDF and current.template_text is None:
        reader = store.open(current.object_key, expected_sha256=current.sha256)
        try:
            return reader.read()
        finally:
            reader.close()
    return render_pdf(letterhead(session, document, signer), current.template_text or current.body_text)


def sign_batch_remotely(
    session: Session,
    store: ObjectStore,
    signing: TwoStepSigning,
    service: CscService,
    document_ids: Sequence[uuid.UUID],
    signer: User,
    *,
    pin: str | None,
    otp: str | None = None,
    base_url: str,
) -> BatchResult:
    """Sign the chosen documents with one CSC authorisation (one PIN/OTP for all).

    Documents the signer may not sign are refused one by one, the rest are signed together.
    A refused PIN or a mismatching answer raises and nothing changes; a TSA/OCSP outage after
    the service signed leaves every document waiting with its signature value kept.
    """
    result = BatchResult()
    ready: list[OutgoingDocument] = []
    for document_id in dict.fromkeys(document_ids):
        try:
            document = get_document(session, document_id, lock=True)
            _check_signer(session, document, signer)
        except PolisError as exc:
            result.refused[document_id] = exc.message
            continue
        ready.append(document)
    if not ready:
        return result
    codes = [new_verification_code() for _ in ready]
    batch = [
        (signable_pdf(session, store, d, signer), signature_stamp(session, d, signer, code, base_url))
        for d, code in zip(ready, codes, strict=True)
    ]
    credential = service.credential()
    pending = signing.begin_many(
        batch, credential.signing_cert, credential.chain, reserve=ReservedField(), certify=True
    )
    values = service.sign_hashes([p.digest_to_sign for p in pending], pin=pin, otp=otp)
    try:
        signed = signing.finish_many(list(zip(pending, values, strict=True)))
    except ServiceUnavailable as exc:
        for document, item, value, code in zip(ready, pending, values, codes, strict=True):
            _keep_waiting(session, document, signer, item, value, code, exc.message)
            result.waiting[document.id] = exc.message
        return result
    for document, pdf, code in zip(ready, signed, codes, strict=True):
        _signed(session, store, document, signer, pdf, code, "csc")
        result.signed.append(document.id)
    return result


def _keep_waiting(
    session: Session,
    document: OutgoingDocument,
    signer: User,
    pending: PendingSignature,
    value: bytes,
    code: str,
    reason: str,
) -> None:
    document.pending_signature = {
        "pending": pending.to_dict(),
        "signature": base64.b64encode(value).decode("ascii"),
        "code": code,
        "signer_id": str(signer.id),
    }
    session.flush()
    record(session, document.id, signer, "signature_waiting", reason=reason)


def finish_waiting(
    session: Session, store: ObjectStore, signing: TwoStepSigning, document_id: uuid.UUID
) -> bool:
    """Finish a document whose signature the service gave while the TSA was down (no new PIN)."""
    document = get_document(session, document_id, lock=True)
    kept = document.pending_signature or {}
    if document.status != OutgoingStatus.TO_SIGN.value or "signature" not in kept:
        return False
    signer = session.get(User, uuid.UUID(kept["signer_id"]))
    if signer is None:
        return False
    _check_signer(session, document, signer)
    pending = PendingSignature.from_dict(kept["pending"])
    try:
        pdf = signing.finish(pending, base64.b64decode(kept["signature"]))
    except ServiceUnavailable as exc:
        raise SigningDeferred(f"{exc.message} The document keeps waiting; nothing was registered.") from exc
    _signed(session, store, document, signer, pdf, kept["code"], "csc")
    return True


def retry_waiting(
    session: Session, store: ObjectStore, settings: Settings, document_id: uuid.UUID, user: User
) -> OutgoingDocument:
    """The signatory (or their substitute) tries again a signature the service gave while the
    time-stamping service was down; SigningDeferred while it still is (nothing registered)."""
    document = get_document(session, document_id, lock=True)
    kept = document.pending_signature or {}
    if document.status != OutgoingStatus.TO_SIGN.value or "signature" not in kept:
        raise WrongState(
            "No signature of this document is waiting for the time-stamping service; refresh the page.",
            reason="not_waiting",
        )
    _check_signer(session, document, user)
    finish_waiting(session, store, official_signing_for(settings), document_id)
    return document


def waiting_for_tsa(document: OutgoingDocument) -> bool:
    """Whether the document's signature is given and only waits for the time-stamping service."""
    return document.status == OutgoingStatus.TO_SIGN.value and "signature" in (
        document.pending_signature or {}
    )


def begin_external(
    session: Session,
    store: ObjectStore,
    signing: TwoStepSigning,
    document_id: uuid.UUID,
    signer: User,
    certificate: bytes,
    chain: Sequence[bytes] = (),
    *,
    base_url: str,
) -> dict[str, Any]:
    """Prepare the document for a desktop signing app: returns the package with the hash to sign.

    ``certificate`` (and ``chain``) are the signer's, DER or PEM; a certificate that is not
    qualified, has expired or is revoked is refused before any hash is handed out.
    """
    document = get_document(session, document_id, lock=True)
    _check_signer(session, document, signer)
    cert = _load_certificate(certificate)
    code = new_verification_code()
    pending = signing.begin(
        signable_pdf(session, store, document, signer),
        cert,
        [_load_certificate(c) for c in chain],
        signature_stamp(session, document, signer, code, base_url),
        reserve=ReservedField(),
        certify=True,
    )
    document.pending_signature = {"pending": pending.to_dict(), "code": code, "signer_id": str(signer.id)}
    session.flush()
    record(session, document.id, signer, "signature_started", channel="external")
    return to_be_signed(pending)


def _load_certificate(data: bytes) -> x509.Certificate:
    from asn1crypto import pem

    from engine.outgoing.errors import DraftInvalid

    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        return x509.Certificate.load(data)
    except (ValueError, TypeError) as exc:
        raise DraftInvalid(
            "certificate: not an X.509 certificate; export your signing certificate (PEM or DER)"
            " and upload it.",
            fields={"certificate": "unreadable"},
        ) from exc


def finish_external_signature(
    session: Session,
    store: ObjectStore,
    signing: TwoStepSigning,
    document_id: uuid.UUID,
    signer: User,
    answer: dict[str, Any] | str | bytes,
) -> OutgoingDocument:
    """Take the signing app's answer (signature value or CMS) and finish the same pending signature.

    A signature that does not match the hash or the certificate is refused (signing.external)
    and the document keeps waiting for a correct one.
    """
    document = get_document(session, document_id, lock=True)
    _check_signer(session, document, signer)
    kept = document.pending_signature or {}
    if "pending" not in kept or kept.get("signer_id") != str(signer.id):
        raise WrongState("Download the hash to sign first; then upload what the signing app produced.")
    try:
        pdf = finish_external(signing, PendingSignature.from_dict(kept["pending"]), answer)
    except ServiceUnavailable as exc:
        raise SigningDeferred(
            f"{exc.message} Upload the same signature again later; nothing was registered."
        ) from exc
    _signed(session, store, document, signer, pdf, kept["code"], "external")
    return document


def _signed(
    session: Session,
    store: ObjectStore,
    document: OutgoingDocument,
    signer: User,
    pdf: bytes,
    code: str,
    channel: str,
) -> None:
    """Keep the signed PDF and move the case on to registration."""
    stored = store_file(session, store, io.BytesIO(pdf), content_type=PDF, filename=f"{code}-signed.pdf")
    step = signatory_step(session, document)
    assert step is not None  # _check_signer found it
    now = utcnow()
    step.state, step.acted_at, step.acted_by_id = StepState.SIGNED.value, now, signer.id
    document.signed_key, document.signed_sha256 = stored.key, stored.sha256
    document.signed_by_id, document.verification_code = signer.id, code
    document.pending_signature = None
    document.status = OutgoingStatus.SIGNED.value
    session.flush()
    task = open_task(session, document, "sign")
    give_task(session, task, signer)
    complete_task(
        session,
        task.task_id,
        {"next_step": "signed", "signed_sha256": stored.sha256},
        signer,
        owner="outgoing",
    )
    record(
        session,
        document.id,
        signer,
        "signed",
        channel=channel,
        sha256=stored.sha256,
        for_person=str(step.person_id) if step.person_id != signer.id else None,
    )


def sign_with_remote_service(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    document_ids: Sequence[uuid.UUID],
    signer: User,
    *,
    credential_id: str,
    pin: str | None,
    otp: str | None,
) -> BatchResult:
    """The signing page's batch: the officials' CSC service from the settings, the signer's own
    credential, one PIN/OTP for every chosen document."""
    from engine.outgoing.errors import DraftInvalid

    if not settings.officials_csc_url:
        raise SigningDeferred(
            "Remote signing is not configured (POLIS_OFFICIALS_CSC_URL); sign with the signing app instead."
        )
    if not credential_id.strip():
        raise DraftInvalid(
            "credential: give your credential id at the signing service.", fields={"credential": "required"}
        )
    if not document_ids:
        raise DraftInvalid(
            "documents: choose at least one document to sign.", fields={"documents": "required"}
        )
    return sign_batch_remotely(
        session,
        store,
        official_signing_for(settings),
        CscService(
            settings.officials_csc_url, credential_id.strip(), timeout=settings.signing_timeout_seconds
        ),
        document_ids,
        signer,
        pin=pin or None,
        otp=otp or None,
        base_url=settings.public_base_url,
    )


def begin_external_for(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    document_id: uuid.UUID,
    signer: User,
    certificate: bytes,
    chain: Sequence[bytes] = (),
) -> dict[str, Any]:
    """The signing page's external path, step 1: the package (hash to sign) for the signing app."""
    return begin_external(
        session,
        store,
        official_signing_for(settings),
        document_id,
        signer,
        certificate,
        chain,
        base_url=settings.public_base_url,
    )


def finish_external_for(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    document_id: uuid.UUID,
    signer: User,
    answer: bytes,
) -> OutgoingDocument:
    """The signing page's external path, step 2: the signing app's answer (JSON or a CMS file)."""
    return finish_external_signature(
        session, store, official_signing_for(settings), document_id, signer, answer
    )
