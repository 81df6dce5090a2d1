"""The registry of documents Polis issued, and their public verification.

Every issued document gets an unguessable verification code (128 bits, URL-safe). The QR
code of its seal opens ``/verify/<code>``, where anyone sees its status (valid, revoked,
superseded) and can check that a copy is the very same file. Status changes write an
append-only event row (the database refuses to update or delete events).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO

from asn1crypto import x509
from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import Conflict, InvalidInput, NotFound
from core.orm import Base
from signing.sealer import Sealer
from signing.stamp import Stamp, StampPlacement
from signing.verify import VerificationReport, verify
from storage import ObjectStore
from storage.records import store_file

STATUSES = ("valid", "revoked", "superseded")
#: 16 random bytes → 22 URL-safe characters.
CODE_BYTES = 16
_CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")
#: Uploaded copies larger than this are refused (an issued certificate is a few hundred KB).
MAX_COPY_BYTES = 50 * 1024 * 1024


class IssuedDocument(Base):
    """A document Polis issued, sealed and stored."""

    __tablename__ = "issued_documents"
    __table_args__ = (
        CheckConstraint("status IN ('valid', 'revoked', 'superseded')", name="status_known"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("(status = 'revoked') = (revoked_at IS NOT NULL)", name="revoked_has_time"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    verification_code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    protocol_number: Mapped[str | None] = mapped_column(String(64))
    #: The official who signed it (qualified signature), shown on the verification page;
    #: empty for documents only the organisation's e-seal signed.
    signer_name: Mapped[str | None] = mapped_column(String(200))
    signer_title: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="valid", server_default="valid")
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    issued_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    superseded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("issued_documents.id"))


class IssuedDocumentEvent(Base):
    """An append-only record of what happened to an issued document, by whom and why."""

    __tablename__ = "issued_document_events"
    __table_args__ = (CheckConstraint("action IN ('issued', 'revoked', 'superseded')", name="action_known"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("issued_documents.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UnknownVerificationCode(NotFound):
    """No issued document has this code."""

    code = "unknown_verification_code"


def new_verification_code() -> str:
    """A fresh unguessable code (128 bits): create it first, it goes into the seal's QR code.

    It never begins with ``-`` or ``_``: a code read off a paper copy is typed into
    ``polis documents revoke CODE``, where a leading dash would be taken for an option,
    and into emails and phone calls, where it is easy to miss.
    """
    while True:
        code = secrets.token_urlsafe(CODE_BYTES)
        if code[0].isalnum():
            return code


def verification_path(code: str) -> str:
    """The path of the public verification page (prefix it with the public base URL)."""
    return f"/verify/{code}"


def issue_document(
    session: Session,
    *,
    title: str,
    pdf: bytes,
    storage_key: str,
    protocol_number: str | None = None,
    verification_code: str | None = None,
    issued_by: uuid.UUID | None = None,
    supersedes: IssuedDocument | None = None,
    signer_name: str | None = None,
    signer_title: str | None = None,
) -> IssuedDocument:
    """Register a sealed, stored document; optionally mark the one it replaces superseded.

    ``signer_name``/``signer_title``: the official whose qualified signature the document
    carries (shown on the verification page), when not only the e-seal signed it.
    """
    title = title.strip()
    if not title:
        raise InvalidInput("an issued document needs a title; give the document's subject.")
    code = verification_code or new_verification_code()
    if not _CODE_PATTERN.match(code):
        raise InvalidInput(
            "the verification code must come from new_verification_code() (22 URL-safe characters)."
        )
    document = IssuedDocument(
        id=uuid.uuid4(),
        verification_code=code,
        title=title,
        protocol_number=(protocol_number or "").strip() or None,
        signer_name=(signer_name or "").strip()[:200] or None,
        signer_title=(signer_title or "").strip()[:200] or None,
        sha256=hashlib.sha256(pdf).hexdigest(),
        storage_key=storage_key,
        status="valid",
        issued_by_id=issued_by,
    )
    session.add(document)
    session.flush()
    session.add(IssuedDocumentEvent(document_id=document.id, action="issued", actor_id=issued_by))
    if supersedes is not None:
        old = _locked(session, supersedes.verification_code)
        if old.status != "valid":
            raise Conflict(
                f"document {old.verification_code} is already {old.status}; only a valid "
                "document can be superseded."
            )
        old.status = "superseded"
        old.superseded_by_id = document.id
        session.add(
            IssuedDocumentEvent(
                document_id=old.id,
                action="superseded",
                actor_id=issued_by,
                reason=f"replaced by {document.verification_code}",
            )
        )
    session.flush()
    return document


def _locked(session: Session, code: str) -> IssuedDocument:
    if not _CODE_PATTERN.match(code):
        raise UnknownVerificationCode("no issued document has this verification code; check it.")
    document = session.scalars(
        select(IssuedDocument).where(IssuedDocument.verification_code == code).with_for_update()
    ).one_or_none()
    if document is None:
        raise UnknownVerificationCode("no issued document has this verification code; check it.")
    return document


def revoke_document(session: Session, code: str, *, by: uuid.UUID | None, reason: str) -> IssuedDocument:
    """Revoke an issued document (audited); its page then says so to anyone who checks."""
    reason = reason.strip()
    if len(reason) < 5:
        raise InvalidInput("say why the document is revoked (at least a few words).")
    document = _locked(session, code)
    if document.status != "valid":
        raise Conflict(f"this document is already {document.status}; nothing was changed.")
    document.status = "revoked"
    document.revoked_at = datetime.now(UTC)
    document.revoked_by_id = by
    document.revocation_reason = reason
    session.add(IssuedDocumentEvent(document_id=document.id, action="revoked", actor_id=by, reason=reason))
    session.flush()
    return document


def lookup(session: Session, code: str) -> IssuedDocument:
    """The issued document with this code, or UnknownVerificationCode."""
    if not _CODE_PATTERN.match(code):
        raise UnknownVerificationCode("no issued document has this verification code; check it.")
    document = session.scalars(
        select(IssuedDocument).where(IssuedDocument.verification_code == code)
    ).one_or_none()
    if document is None:
        raise UnknownVerificationCode("no issued document has this verification code; check it.")
    return document


def history(session: Session, document: IssuedDocument) -> list[IssuedDocumentEvent]:
    """The document's events, oldest first."""
    return list(
        session.scalars(
            select(IssuedDocumentEvent)
            .where(IssuedDocumentEvent.document_id == document.id)
            .order_by(IssuedDocumentEvent.id)
        )
    )


def seal_and_issue(
    session: Session,
    sealer: Sealer,
    store: ObjectStore,
    *,
    title: str,
    pdf: bytes,
    public_base_url: str,
    protocol_number: str | None = None,
    placement: StampPlacement | None = None,
    signer_name: str | None = None,
    issued_by: uuid.UUID | None = None,
    supersedes: IssuedDocument | None = None,
) -> IssuedDocument:
    """Seal a PDF with a stamp whose QR code opens its verification page, store and register it.

    Sealing comes first: if the TSA, OCSP responder or token is down, the error propagates
    and nothing is stored or registered (the caller retries later).
    """
    code = new_verification_code()
    stamp = Stamp(
        verification_url=public_base_url.rstrip("/") + verification_path(code),
        verification_code=code,
        signer_name=signer_name,
        placement=placement or StampPlacement(),
    )
    sealed = sealer.seal(pdf, stamp)
    record = store_file(
        session, store, BytesIO(sealed), content_type="application/pdf", filename=f"{code}.pdf"
    )
    return issue_document(
        session,
        title=title,
        pdf=sealed,
        storage_key=record.key,
        protocol_number=protocol_number,
        verification_code=code,
        issued_by=issued_by,
        supersedes=supersedes,
    )


@dataclass(frozen=True)
class CopyCheck:
    """Whether an uploaded copy is the issued file, and what its signatures say."""

    document: IssuedDocument
    sha256: str
    same_file: bool
    report: VerificationReport


def check_copy(
    session: Session, code: str, copy: bytes, trust_roots: Sequence[x509.Certificate]
) -> CopyCheck:
    """Compare an uploaded copy with the issued document and verify its signatures."""
    document = lookup(session, code)
    if not copy:
        raise InvalidInput("the uploaded file is empty; choose the PDF you received.")
    if len(copy) > MAX_COPY_BYTES:
        raise InvalidInput(
            f"the file is larger than {MAX_COPY_BYTES // (1024 * 1024)} MB; an issued document "
            "is much smaller, so this is not it."
        )
    digest = hashlib.sha256(copy).hexdigest()
    report = verify(copy, trust_roots)
    return CopyCheck(document=document, sha256=digest, same_file=digest == document.sha256, report=report)
