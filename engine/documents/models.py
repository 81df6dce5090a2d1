"""Tables of the document flow: the document (its case file), its assignments and its history.

A document is one registered ΕΙΣ protocol entry. Every χρέωση is one assignment row per
(document, unit, purpose); a for-action assignment is worked on its own
``incoming_document`` case. Assignments change state as the work goes on; what happened, by
whom and why is the append-only :class:`DocumentEvent` history.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.orm import Base
from engine.protocol.models import ProtocolEntry


class Purpose(enum.StrEnum):
    """Why a unit holds a document: to act on it, or to know of it (κοινοποίηση)."""

    ACTION = "action"
    INFORMATION = "information"


class AssignmentState(enum.StrEnum):
    """Where an assignment stands."""

    OPEN = "open"  # for action, being worked
    FILED = "filed"  # αρχειοθέτηση, with a reason and a file-plan subject
    REPLY = "reply"  # the unit is drafting a reply (outgoing documents take it from here)
    REASSIGNED = "reassigned"  # moved to another unit, with a reason
    COPY = "copy"  # for information: nothing to do


class IncomingDocument(Base):
    """A registered incoming document: its protocol entry and who registered it."""

    __tablename__ = "documents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("protocol_entries.id"), unique=True)
    document_type: Mapped[str] = mapped_column(String(64))
    registered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    #: The registering office (the registrar's unit), which keeps seeing the document.
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))
    #: Where it came from: staff (the registration page), email or kside (a confirmed draft).
    source: Mapped[str] = mapped_column(String(16), server_default=text("'staff'"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    #: The registration form's one-time key (or the email's Message-ID): sent twice, registered once.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    entry: Mapped[ProtocolEntry] = relationship()

    __table_args__ = (
        Index("ix_documents_registered_by", "registered_by_id", "created_at"),
        CheckConstraint("source IN ('staff', 'email', 'kside')", name="source_known"),
    )


class DocumentAssignment(Base):
    """One χρέωση of a document to a unit, for action (with its case) or for information."""

    __tablename__ = "document_assignments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"), index=True)
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    #: The incoming_document case that works a for-action assignment (kept on re-assignment).
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"), index=True)
    assigned_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The assignment this one continues (re-assignment from another unit) and why.
    reassigned_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("document_assignments.id"))
    note: Mapped[str | None] = mapped_column(Text)
    #: First opened by someone of the unit (the unit shares its folders, as a ΙΡΙΔΑ position does).
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    #: Filing: why, and under which subject of the file plan (θεματολόγιο); re-assignment: why.
    reason: Mapped[str | None] = mapped_column(Text)
    file_plan_code: Mapped[str | None] = mapped_column(String(32))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("purpose IN ('action', 'information')", name="purpose_known"),
        CheckConstraint("state IN ('open', 'filed', 'reply', 'reassigned', 'copy')", name="state_known"),
        CheckConstraint("(purpose = 'information') = (state = 'copy')", name="copies_are_information"),
        CheckConstraint("(purpose = 'action') = (case_id IS NOT NULL)", name="action_has_case"),
        CheckConstraint(
            "state NOT IN ('filed', 'reassigned') OR length(btrim(coalesce(reason, ''))) > 0",
            name="closing_reason_given",
        ),
        CheckConstraint("state <> 'filed' OR file_plan_code IS NOT NULL", name="filed_with_subject"),
        # One live χρέωση per unit and purpose: a second one for the same pair is a no-op.
        Index(
            "uq_document_assignments_live",
            "document_id",
            "department_id",
            "purpose",
            unique=True,
            postgresql_where=text("state IN ('open', 'copy')"),
        ),
        Index("ix_document_assignments_folder", "department_id", "purpose", "state", "assigned_at"),
    )


class DocumentEvent(Base):
    """The document's history: registered, assigned, opened, routed, filed, commented… Append-only."""

    __tablename__ = "document_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))

    __table_args__ = (Index("ix_document_events_document", "document_id", "id"),)


class MailDraft(Base):
    """A message the municipal mailbox (or a package the ΚΣΗΔΕ exchange) delivered: a draft
    registration for the protocol office, or held for a person to look at (with the reason).
    The raw message (or the package's metadata file) is kept."""

    __tablename__ = "mail_drafts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    #: The Message-ID (or, without one, a hash of the raw bytes): a second delivery is ignored.
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    envelope_from: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    hold_reason: Mapped[str | None] = mapped_column(Text)
    raw_key: Mapped[str] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    raw_size: Mapped[int] = mapped_column(BigInteger)
    #: [{filename, content_type, size, storage_key, sha256}] of the attachments kept.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    document_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("documents.id"))
    confirmed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    #: How it came: the municipal mailbox (email) or the exchange between bodies (kside).
    channel: Mapped[str] = mapped_column(String(16), server_default=text("'email'"))
    #: An exchange package's metadata as the sender gave it (reference number, date, type…).
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    #: When the sender was told our protocol number (exchange packages).
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'held', 'registered')", name="status_known"),
        CheckConstraint("channel IN ('email', 'kside')", name="channel_known"),
        CheckConstraint("(status = 'held') = (hold_reason IS NOT NULL)", name="held_with_reason"),
        CheckConstraint("(status = 'registered') = (document_id IS NOT NULL)", name="registered_document"),
        Index("ix_mail_drafts_status_received", "status", "received_at"),
    )
