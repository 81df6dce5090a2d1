"""The notification outbox: written with the state change, sent later by the worker."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base

CHANNELS = ("email", "sms")
#: "sending" is kept for senders that hand off asynchronously; the outbox itself holds the
#: row lock while it sends, so other workers never see a row in flight.
STATUSES = ("queued", "sending", "sent", "failed")


class Notification(Base):
    """One message to one recipient over one channel, with its delivery history."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel"),
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name="status"),
        CheckConstraint("locale IN ('el', 'en')", name="locale"),
        # The worker's query: queued rows whose time has come, oldest first.
        Index(
            "ix_notifications_due",
            "next_attempt_at",
            postgresql_where="status = 'queued'",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The case this message is about (none for account mail such as email verification).
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(2))
    template_key: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
