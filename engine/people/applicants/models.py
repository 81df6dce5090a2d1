"""Applicants: citizens and businesses who submit requests and follow them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base

CHANNELS = ("email", "sms", "both")
LOCALES = ("el", "en")


class Applicant(Base):
    """A citizen's account: email and password, or a login through an OIDC provider."""

    __tablename__ = "applicants"
    __table_args__ = (
        # Case-insensitive uniqueness: emails are stored lower-cased (the check keeps it so),
        # so Eleni@Example.gr and eleni@example.gr are one person under a plain unique index.
        UniqueConstraint("email", name="uq_applicants_email"),
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_applicants_oidc_issuer_subject"),
        CheckConstraint("preferred_channel IN ('email', 'sms', 'both')", name="preferred_channel"),
        CheckConstraint("preferred_locale IN ('el', 'en')", name="preferred_locale"),
        CheckConstraint("(oidc_issuer IS NULL) = (oidc_subject IS NULL)", name="oidc_pair"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str | None] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    preferred_channel: Mapped[str] = mapped_column(String(8), default="email", server_default="email")
    preferred_locale: Mapped[str] = mapped_column(String(2), default="el", server_default="el")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    oidc_issuer: Mapped[str | None] = mapped_column(String(500))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


#: What an emailed link is for: confirming the address, or setting a new password.
TOKEN_PURPOSES = ("verify", "reset")


class EmailVerificationToken(Base):
    """A single-use link emailed to an applicant; only its keyed hash is kept."""

    __tablename__ = "applicant_email_tokens"
    __table_args__ = (
        CheckConstraint(f"purpose IN ({', '.join(repr(p) for p in TOKEN_PURPOSES)})", name="purpose"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    applicant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    purpose: Mapped[str] = mapped_column(String(8), default="verify", server_default="verify")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
