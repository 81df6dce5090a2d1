"""Signing up: the account and its confirmation email, written in one transaction."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from sqlalchemy.orm import Session

from core.settings import Settings
from engine.applicants.models import Applicant
from engine.applicants.service import register
from engine.notifications.outbox import enqueue_notification


def verification_url(settings: Settings, token: str) -> str:
    """The link in the confirmation email (the portal's page posts the token back)."""
    return f"{settings.public_base_url}/citizen/verify?token={quote(token)}"


def sign_up(
    session: Session,
    settings: Settings,
    *,
    email: str,
    full_name: str,
    password: str,
    phone: str | None = None,
    preferred_channel: str = "email",
    preferred_locale: str = "el",
    now: datetime | None = None,
) -> Applicant:
    """Create an unconfirmed account and queue the confirmation email through the outbox."""
    applicant, token = register(
        session,
        email=email,
        full_name=full_name,
        password=password,
        secret=settings.secret(),
        phone=phone,
        preferred_channel=preferred_channel,
        preferred_locale=preferred_locale,
        now=now,
    )
    assert applicant.email is not None  # register() always sets it
    enqueue_notification(
        session,
        channel="email",
        recipient=applicant.email,
        locale=applicant.preferred_locale,
        template_key="email_verification",
        values={
            "applicant_name": applicant.full_name,
            "verification_url": verification_url(settings, token),
            "municipality_name": settings.municipality_name,
        },
        now=now,
    )
    return applicant
