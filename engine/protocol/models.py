"""Tables of the protocol registry: registries, yearly counters, entries, files, relations.

The database itself guards what the law says must never change (see the triggers in
migration ``0003_protocol``): these models only describe the columns.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.orm import Base


class Direction(enum.StrEnum):
    """Incoming, outgoing and internal documents share one series; the direction is a label."""

    INCOMING = "ΕΙΣ"
    OUTGOING = "ΕΞ"
    INTERNAL = "ΕΣΩ"


class Classification(enum.StrEnum):
    """Classification marks; ΕΜΠ and ΠΔ restrict who may see an entry."""

    RESTRICTED = "ΠΧ"
    CONFIDENTIAL = "ΕΜΠ"
    PERSONAL_DATA = "ΠΔ"


#: Marks that hide an entry from users whose clearance lacks them.
GUARDED_MARKS: frozenset[str] = frozenset({Classification.CONFIDENTIAL, Classification.PERSONAL_DATA})


class DeliveryMethod(enum.StrEnum):
    """How a document arrived or left."""

    EMAIL = "email"
    HAND = "hand"
    POST = "post"
    KSIDE = "kside"
    PORTAL = "portal"


def _in_list(column: str, values: type[enum.StrEnum]) -> str:
    """A CHECK expression accepting exactly the enum's values."""
    quoted = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({quoted})"


#: The code of the general protocol book (engine.protocol.drafts.GENERAL_REGISTRY).
GENERAL_REGISTRY_CODE = "GEN"


class Registry(Base):
    """A protocol book: the general one, or e.g. one per directorate."""

    __tablename__ = "protocol_registries"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_el: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class RegistryCounter(Base):
    """The last number given in a registry's yearly series; its row lock serialises numbering."""

    __tablename__ = "protocol_counters"

    registry_id: Mapped[int] = mapped_column(ForeignKey("protocol_registries.id"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)
    # Registration times are never earlier than this within a series, so times follow numbers.
    last_registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("last_number >= 0", name="last_number_not_negative"),)


class ProtocolEntry(Base):
    """One registered document. Number, year, time, direction and registry never change."""

    __tablename__ = "protocol_entries"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    registry_id: Mapped[int] = mapped_column(ForeignKey("protocol_registries.id"))
    year: Mapped[int] = mapped_column(SmallInteger)
    number: Mapped[int] = mapped_column(Integer)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    direction: Mapped[str] = mapped_column(String(3))
    subject: Mapped[str] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(Text)
    sender_reference: Mapped[str | None] = mapped_column(Text)
    sender_date: Mapped[date | None] = mapped_column(Date)
    recipients: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    copies: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    attachments_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    attachments_description: Mapped[str | None] = mapped_column(Text)
    delivery_method: Mapped[str | None] = mapped_column(String(16))
    document_type: Mapped[str | None] = mapped_column(Text)
    classification: Mapped[str | None] = mapped_column(String(3))
    # The engine's cases table is built in parallel: the id is kept without a foreign key
    # for now, with the case's human reference next to it for search and display.
    case_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    case_number: Mapped[str | None] = mapped_column(Text)
    registered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    #: The registering office: the registering user's department at registration (None for
    #: entries a process registered on its own). It sees the entry's contents; see visibility.py.
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("protocol_entries.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    receipt_key: Mapped[str | None] = mapped_column(Text)
    ada: Mapped[str | None] = mapped_column(Text)
    subject_tsv: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('greek'::regconfig, polis_unaccent(subject))", persisted=True),
        deferred=True,
    )
    parties_tsv: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            "to_tsvector('simple'::regconfig, polis_unaccent(coalesce(sender, '') || ' '"
            " || polis_text_join(recipients) || ' ' || polis_text_join(copies)))",
            persisted=True,
        ),
        deferred=True,
    )

    # "registry" is reserved by SQLAlchemy declarative classes, hence "book".
    book: Mapped[Registry] = relationship(lazy="joined")
    files: Mapped[list[EntryFile]] = relationship(
        order_by="EntryFile.position", lazy="selectin", back_populates="entry"
    )

    __table_args__ = (
        UniqueConstraint("registry_id", "year", "number", name="uq_protocol_entries_number"),
        CheckConstraint("number > 0", name="number_positive"),
        CheckConstraint("length(btrim(subject)) > 0", name="subject_not_blank"),
        CheckConstraint(_in_list("direction", Direction), name="direction_known"),
        CheckConstraint(
            f"classification IS NULL OR {_in_list('classification', Classification)}",
            name="classification_known",
        ),
        CheckConstraint(
            f"delivery_method IS NULL OR {_in_list('delivery_method', DeliveryMethod)}",
            name="delivery_method_known",
        ),
        CheckConstraint("sender_reference IS NULL OR sender_date IS NOT NULL", name="sender_reference_dated"),
        CheckConstraint("attachments_count >= 0", name="attachments_count_not_negative"),
        CheckConstraint("(cancelled_at IS NULL) = (cancel_reason IS NULL)", name="cancel_reason_given"),
        Index("ix_protocol_entries_year_number", "year", "number"),
        Index("ix_protocol_entries_registered_at", "registered_at", "id"),
        # Classified entries are few: without this a classification filter walks the whole
        # time index to fill a page.
        Index(
            "ix_protocol_entries_classification_registered_at",
            "classification",
            "registered_at",
            "id",
            postgresql_where=text("classification IS NOT NULL"),
        ),
        Index("ix_protocol_entries_case_id", "case_id", postgresql_where=text("case_id IS NOT NULL")),
        # Who may see an entry's contents (visibility.py): a unit's and a registrar's entries.
        Index("ix_protocol_entries_unit_id", "unit_id", postgresql_where=text("unit_id IS NOT NULL")),
        Index(
            "ix_protocol_entries_registered_by_id",
            "registered_by_id",
            postgresql_where=text("registered_by_id IS NOT NULL"),
        ),
        Index(
            "ix_protocol_entries_corrects_id", "corrects_id", postgresql_where=text("corrects_id IS NOT NULL")
        ),
        Index("ix_protocol_entries_subject_tsv", "subject_tsv", postgresql_using="gin"),
        Index("ix_protocol_entries_parties_tsv", "parties_tsv", postgresql_using="gin"),
    )

    @property
    def display_number(self) -> str:
        """The number as people write it: ``34933 ΕΞ 2026`` (+ classification mark).

        Each registry has its own series, so outside the general one the registry's code
        comes first (``ΔΤΥ 512 ΕΙΣ 2026``): two registries' 512 are different documents.
        """
        shown = f"{self.number} {self.direction} {self.year}"
        if self.book is not None and self.book.code != GENERAL_REGISTRY_CODE:
            shown = f"{self.book.code} {shown}"
        return f"{shown} {self.classification}" if self.classification else shown

    @property
    def is_cancelled(self) -> bool:
        """Whether the entry was cancelled (it keeps its number)."""
        return self.cancelled_at is not None


class EntryFile(Base):
    """A file registered with an entry: a stored object and its SHA-256, never changed."""

    __tablename__ = "protocol_entry_files"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("protocol_entries.id"), index=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    storage_key: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(Text)

    entry: Mapped[ProtocolEntry] = relationship(back_populates="files")

    __table_args__ = (
        UniqueConstraint("entry_id", "position", name="uq_protocol_entry_files_position"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("size >= 0", name="size_not_negative"),
    )


class EntryRelation(Base):
    """A 'σχετικό': an entry refers to an earlier one."""

    __tablename__ = "protocol_entry_relations"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("protocol_entries.id"), primary_key=True)
    related_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("protocol_entries.id"), primary_key=True, index=True
    )

    __table_args__ = (CheckConstraint("entry_id <> related_id", name="not_self"),)


class EntryAssignment(Base):
    """A χρέωση: the entry is assigned to a unit, which may then see its contents. Append-only."""

    __tablename__ = "protocol_entry_units"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("protocol_entries.id"), primary_key=True)
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    assigned_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (Index("ix_protocol_entry_units_department_entry", "department_id", "entry_id"),)


class EntryPerson(Base):
    """A person named on an entry (e.g. the mayor on a ΠΧ letter): sees its contents. Append-only."""

    __tablename__ = "protocol_entry_people"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("protocol_entries.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    added_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (Index("ix_protocol_entry_people_user_entry", "user_id", "entry_id"),)
