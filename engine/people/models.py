"""The municipality's organisation: departments and the staff who work in them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base

#: The roles Polis knows; lanes of BPMN processes map to them (see engine configuration).
ROLES = ("clerk", "head", "protocol_clerk", "signatory", "admin")
#: Kinds of organisational unit, from the top of the tree down.
UNIT_KINDS = ("municipality", "general_directorate", "directorate", "department", "office")
#: Kinds of position (θέση) and the roles a person acting in one holds. A protocol officer
#: also answers the general requests that land in the protocol office's clerk lane.
POSITION_ROLES: dict[str, tuple[str, ...]] = {
    "head": ("head",),
    "clerk": ("clerk",),
    "protocol_officer": ("protocol_clerk", "clerk"),
    "signatory": ("signatory",),
    "admin": ("admin",),
}
POSITION_KINDS = tuple(POSITION_ROLES)
#: Classification marks of protocol entries that need clearance to be seen.
CLEARANCES = ("ΕΜΠ", "ΠΔ")


class Department(Base):
    """An organisational unit (municipality, directorate, department, office) in the org tree.

    ``head_user_id`` and ``substitute_user_id`` are the configured head and standing
    substitute; a dated substitution (:class:`Substitution`) takes precedence while it runs.
    """

    __tablename__ = "departments"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('municipality', 'general_directorate', 'directorate', 'department', 'office')",
            name="kind",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_el: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))
    head_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_departments_head_user_id_users")
    )
    substitute_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_departments_substitute_user_id_users")
    )
    kind: Mapped[str] = mapped_column(String(32), server_default="department")
    email: Mapped[str | None] = mapped_column(String(254))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def name(self, locale: str) -> str:
        """The department's name in ``locale`` (Greek unless English is asked for)."""
        return self.name_en if locale == "en" else self.name_el


class User(Base):
    """A member of staff who signs in to Polis."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    department_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list, server_default="{}")
    clearance: Mapped[list[str]] = mapped_column(ARRAY(String(8)), default=list, server_default="{}")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: Part of every staff session's fingerprint: bumped on sign-out, it ends them all.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def has_role(self, role: str) -> bool:
        """Whether the user holds ``role``."""
        return role in self.roles

    @property
    def acting_for_id(self) -> uuid.UUID | None:
        """A user record acts for nobody else (see engine.people.acting for substitutes)."""
        return None


class Position(Base):
    """A position (θέση) a person holds in a unit: head, clerk, protocol officer, signatory, admin.

    Positions are ended (``ended_at``), never deleted, so who held what stays known.
    """

    __tablename__ = "positions"
    __table_args__ = (
        CheckConstraint("kind IN ('head', 'clerk', 'protocol_officer', 'signatory', 'admin')", name="kind"),
        Index(
            "uq_positions_current",
            "user_id",
            "unit_id",
            "kind",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: The title a signatory signs with, e.g. Δήμαρχος, Αντιδήμαρχος.
    title: Mapped[str | None] = mapped_column(String(200))
    #: Signs by delegation (εξουσιοδότηση υπογραφής), e.g. a Deputy Mayor for the Mayor.
    delegated_signature: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Substitution(Base):
    """A head's substitute for a date range (inclusive, Athens days): αναπλήρωση."""

    __tablename__ = "substitutions"
    __table_args__ = (CheckConstraint("starts_on <= ends_on", name="dates"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), index=True)
    head_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    substitute_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
