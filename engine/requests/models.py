"""The files of a case and the submissions already answered (idempotency)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base

FILE_KINDS = ("attachment", "supplied", "draft", "certificate", "letter")


class CaseFile(Base):
    """A file that belongs to a case: an applicant's attachment, a draft, the sealed result."""

    __tablename__ = "case_files"
    __table_args__ = (
        CheckConstraint(f"kind IN {FILE_KINDS!r}", name="kind_known"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("size >= 0", name="size_not_negative"),
        Index("ix_case_files_case_id_created_at", "case_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))
    #: The catalogue's attachment kind (e.g. "id_card") for applicants' files.
    attachment_key: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(200))
    stored_object_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stored_objects.id", ondelete="RESTRICT"))
    uploaded_by_applicant: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def as_dict(self) -> dict[str, Any]:
        """The file as the case data and the APIs show it."""
        return {
            "id": str(self.id),
            "kind": self.kind,
            "key": self.attachment_key,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


class RequestSubmission(Base):
    """A submission answered under an Idempotency-Key: a retry gets the same answer back."""

    __tablename__ = "request_submissions"
    __table_args__ = (CheckConstraint("fingerprint ~ '^[0-9a-f]{64}$'", name="fingerprint_hex"),)

    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: SHA-256 of the request's content: the same key with other content is a client error.
    fingerprint: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    response: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PendingSubmission(Base):
    """An anonymous submission held until its applicant follows the emailed confirmation link.

    Nothing is registered, no case exists and nothing is sent to the applicant's addresses
    but the one confirmation email until then (engine/requests/pending.py). The token is kept
    only as its SHA-256; an unconfirmed hold expires and its files are discarded.
    """

    __tablename__ = "pending_submissions"
    __table_args__ = (
        CheckConstraint("token_sha256 ~ '^[0-9a-f]{64}$'", name="token_sha256_hex"),
        Index("ix_pending_submissions_expires_at", "expires_at"),
        # My requests: the confirmed submissions of an account's (verified) address.
        Index("ix_pending_submissions_email", "email"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: Lower-cased: the address the confirmation link went to.
    email: Mapped[str] = mapped_column(String(254))
    #: service_code, form, applicant, source, fingerprint and the stored attachments.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    #: The answer given at confirmation (the same as a signed-in submission's), for a repeat click.
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
