"""Tables of outgoing documents: the draft, its versions (append-only), recipients, σχετικά,
attachments, the signature chain by rounds, reservations and the history (append-only).

A draft's body changes only by adding a version; a return to the author closes the chain's
round and the next submission starts a new round, so every step anyone ever took stays.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base


class OutgoingKind(enum.StrEnum):
    """What the document is; an internal memo is registered ΕΣΩ, the others ΕΞ."""

    LETTER = "letter"
    DECISION = "decision"
    SERVICE_CERTIFICATE = "service_certificate"
    MEMO = "memo"


class OutgoingStatus(enum.StrEnum):
    """Where a document stands."""

    DRAFT = "draft"  # the author writes it
    IN_CHAIN = "in_chain"  # the chain reviews it
    RETURNED = "returned"  # back with the author, with a comment
    TO_SIGN = "to_sign"  # waits for the signatory's qualified signature
    SIGNED = "signed"  # signed, waiting for registration
    REGISTERED = "registered"  # ΕΞ/ΕΣΩ number stamped, being dispatched
    SENT = "sent"  # every recipient reached (or on the print list)


class RecipientKind(enum.StrEnum):
    """Who receives it, and so how it travels."""

    EXTERNAL = "external"  # another body, by email
    CITIZEN = "citizen"  # on the citizen's tracking page (and by email if given)
    INTERNAL = "internal"  # a unit of the municipality: registered ΕΙΣ into its folder
    POST = "post"  # printed and posted by the protocol office


class StepKind(enum.StrEnum):
    """What a person in the chain does."""

    SIGN = "sign"  # υπογραφή (the last one is the signatory's qualified signature)
    OPINION = "opinion"  # γνωμοδότηση


class StepState(enum.StrEnum):
    """A chain step's state in its round."""

    WAITING = "waiting"
    CURRENT = "current"
    APPROVED = "approved"
    RETURNED = "returned"
    SIGNED = "signed"
    CLOSED = "closed"  # the round ended (a return) before this step was reached


class OutgoingDocument(Base):
    """A draft (σχέδιο) and, once signed and registered, the outgoing document itself."""

    __tablename__ = "outgoing_documents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'draft'"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    #: The outgoing_document case that drives the chain (from the first submission on).
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"))
    #: The chain's current round (1 from the first submission; +1 after each return).
    round: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: The two-step pending signature (JSON, holds no secret) while the signatory signs.
    pending_signature: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    #: The signed PDF (before the registration stamp) and the final, stamped one.
    signed_key: Mapped[str | None] = mapped_column(Text)
    signed_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    verification_code: Mapped[str | None] = mapped_column(String(32))
    entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("protocol_entries.id"), unique=True)
    final_key: Mapped[str | None] = mapped_column(Text)
    final_sha256: Mapped[str | None] = mapped_column(String(64))
    #: Where it came from: a correction (ορθή επανάληψη), a reply, a forward or a clone of another.
    derived_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("outgoing_documents.id"))
    derived_how: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint("kind IN ('letter', 'decision', 'service_certificate', 'memo')", name="kind_known"),
        CheckConstraint(
            "status IN ('draft', 'in_chain', 'returned', 'to_sign', 'signed', 'registered', 'sent')",
            name="status_known",
        ),
        CheckConstraint(
            "derived_how IS NULL OR derived_how IN ('correction', 'reply', 'forward', 'clone')",
            name="derived_how_known",
        ),
        CheckConstraint(
            "status NOT IN ('registered', 'sent') OR (entry_id IS NOT NULL AND final_key IS NOT NULL)",
            name="registered_with_entry",
        ),
        Index("ix_outgoing_documents_author", "author_id", "status"),
    )


class OutgoingVersion(Base):
    """One saved body of a draft: the stored file with its SHA-256 and its text. Append-only."""

    __tablename__ = "outgoing_versions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outgoing_documents.id"))
    number: Mapped[int] = mapped_column(Integer)
    object_key: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    #: upload, template (written in the page), restore (of an older one).
    source: Mapped[str] = mapped_column(String(16))
    #: The text as extracted from the file (for comparing versions).
    body_text: Mapped[str] = mapped_column(Text)
    #: What was typed in the page, for a body written from a template.
    template_text: Mapped[str | None] = mapped_column(Text)
    restored_from: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("document_id", "number", name="uq_outgoing_versions_number"),
        CheckConstraint("source IN ('upload', 'template', 'restore')", name="source_known"),
        CheckConstraint("number > 0", name="number_positive"),
    )


class OutgoingRecipient(Base):
    """A recipient (or a copy for information) with its delivery channel and status."""

    __tablename__ = "outgoing_recipients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outgoing_documents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: κοινοποίηση: for information only.
    for_information: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    name: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))
    #: A citizen recipient: the request case whose tracking page shows the document.
    citizen_case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"))
    postal_address: Mapped[str | None] = mapped_column(Text)
    #: pending → sent / registered / published / to_print → printed; failed after the last try.
    delivery: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: An internal recipient: the ΕΙΣ document registered in its unit.
    incoming_document_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("documents.id"))

    __table_args__ = (
        CheckConstraint("kind IN ('external', 'citizen', 'internal', 'post')", name="kind_known"),
        CheckConstraint(
            "delivery IN ('pending', 'sent', 'registered', 'published', 'to_print', 'printed', 'failed')",
            name="delivery_known",
        ),
        CheckConstraint("kind <> 'external' OR email IS NOT NULL", name="external_has_email"),
        CheckConstraint("kind <> 'internal' OR unit_id IS NOT NULL", name="internal_has_unit"),
        CheckConstraint("kind <> 'citizen' OR citizen_case_id IS NOT NULL", name="citizen_has_case"),
        CheckConstraint("kind <> 'post' OR postal_address IS NOT NULL", name="post_has_address"),
        Index("ix_outgoing_recipients_delivery", "delivery", "next_attempt_at"),
    )


class OutgoingRelated(Base):
    """A σχετικό: a protocol entry, another outgoing document or free text; one is the reply-to."""

    __tablename__ = "outgoing_related"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outgoing_documents.id"), index=True)
    entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("protocol_entries.id"))
    outgoing_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("outgoing_documents.id"))
    note: Mapped[str | None] = mapped_column(Text)
    reply_to: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (
        CheckConstraint("num_nonnulls(entry_id, outgoing_id, note) = 1", name="one_target"),
        Index("uq_outgoing_related_reply_to", "document_id", unique=True, postgresql_where=text("reply_to")),
    )


class OutgoingAttachment(Base):
    """A file sent with the document (συνημμένο), stored with its SHA-256."""

    __tablename__ = "outgoing_attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outgoing_documents.id"), index=True)
    object_key: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    added_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))


class ChainStep(Base):
    """One person's step in one round of the chain. Steps of the same stage run in parallel
    (co-signers); stages run in order; the signatory's step is the last stage."""

    __tablename__ = "outgoing_chain_steps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outgoing_documents.id"))
    round: Mapped[int] = mapped_column(Integer)
    stage: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), server_default=text("'waiting'"))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Who acted: the person, or their substitute (then it differs from person_id).
    acted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("kind IN ('sign', 'opinion')", name="kind_known"),
        CheckConstraint(
            "state IN ('waiting', 'current', 'approved', 'returned', 'signed', 'closed')", name="state_known"
        ),
        CheckConstraint(
            "state <> 'returned' OR length(btrim(coalesce(comment, ''))) > 0", name="return_says_why"
        ),
        UniqueConstraint("document_id", "round", "person_id", name="uq_outgoing_chain_steps_person"),
        Index("ix_outgoing_chain_steps_folder", "person_id", "state"),
        Index("ix_outgoing_chain_steps_document", "document_id", "round", "stage"),
    )


class Reservation(Base):
    """A formal reservation or dissent (επιφύλαξη/διαφωνία) that stays with the document. Append-only."""

    __tablename__ = "outgoing_reservations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outgoing_documents.id"), index=True)
    step_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outgoing_chain_steps.id"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    statement: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))

    __table_args__ = (
        CheckConstraint("kind IN ('reservation', 'dissent')", name="kind_known"),
        CheckConstraint("length(btrim(statement)) > 0", name="statement_given"),
    )


class SavedChain(Base):
    """A chain saved for reuse with one document type: [{person_id, kind, stage}, …]."""

    __tablename__ = "outgoing_saved_chains"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))

    __table_args__ = (UniqueConstraint("unit_id", "kind", "name", name="uq_outgoing_saved_chains_name"),)


class OutgoingEvent(Base):
    """The document's history: saved, submitted, approved, returned, signed, sent… Append-only."""

    __tablename__ = "outgoing_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outgoing_documents.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))

    __table_args__ = (Index("ix_outgoing_events_document", "document_id", "id"),)
