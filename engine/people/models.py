"""The municipality's organisation: departments and the staff who work in them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, Boolean, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base

#: The roles Polis knows; lanes of BPMN processes map to them (see engine configuration).
ROLES = ("clerk", "head", "protocol_clerk", "admin")
#: Classification marks of protocol entries that need clearance to be seen.
CLEARANCES = ("ΕΜΠ", "ΠΔ")


class Department(Base):
    """A directorate or department (Διεύθυνση / Τμήμα), with its head and substitute."""

    __tablename__ = "departments"

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
