"""Signing up and getting back in: the account and its emails, written in one transaction.

Neither signing up nor asking for a password link tells the caller whether an address has an
account: both answer the same, and only the mailbox's owner learns more (the confirmation
link, a "you already have an account" notice with a password link, or nothing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.settings import Settings
from engine.notifications.outbox import enqueue_notification
from engine.people.accounts import hash_password
from engine.people.applicants.accounts import (
    AccountExists,
    issue_email_token,
    normalise_email,
    register,
    use_email_token,
)
from engine.people.applicants.models import Applicant, EmailVerificationToken


def verification_url(settings: Settings, token: str) -> str:
    """The link in the confirmation email (the portal's page posts the token back)."""
    return f"{settings.public_base_url}/citizen/verify?token={quote(token)}"


def reset_url(settings: Settings, token: str) -> str:
    """The link in a password email (its page asks for the new password)."""
    return f"{settings.public_base_url}/citizen/reset?token={quote(token)}"


#: Each emailed-link template: the purpose of its token, its page, and the value naming the link.
_LINKS: dict[str, tuple[str, Callable[[Settings, str], str], str]] = {
    "email_verification": ("verify", verification_url, "verification_url"),
    "password_reset": ("reset", reset_url, "reset_url"),
    "account_exists": ("reset", reset_url, "reset_url"),
}


def _send_link(
    session: Session,
    settings: Settings,
    applicant: Applicant,
    template: str,
    now: datetime | None,
    token: str | None = None,
) -> None:
    """Queue a ``template`` email with its link; a new token unless ``token`` was just issued."""
    assert applicant.email is not None  # only accounts with an address get links
    purpose, page, value_name = _LINKS[template]
    if token is None:
        token = issue_email_token(session, applicant, secret=settings.secret(), now=now, purpose=purpose)
    enqueue_notification(
        session,
        channel="email",
        recipient=applicant.email,
        locale=applicant.preferred_locale,
        template_key=template,
        values={
            "applicant_name": applicant.full_name,
            value_name: page(settings, token),
            "municipality_name": settings.municipality_name,
        },
        now=now,
    )


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
) -> str:
    """Create an unconfirmed account and queue its confirmation email; the normalised address.

    A taken address changes nothing stored except a new emailed link to its owner: the
    confirmation again if the account is not confirmed yet, otherwise an "account exists"
    notice with a link to set a new password.
    """
    try:
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
    except AccountExists as taken:
        existing = taken.applicant
        template = "email_verification" if existing.email_verified_at is None else "account_exists"
        _send_link(session, settings, existing, template, now)
        return str(existing.email)
    _send_link(session, settings, applicant, "email_verification", now, token=token)
    return str(applicant.email)


def request_password_reset(
    session: Session, settings: Settings, email: str, *, now: datetime | None = None
) -> str:
    """Email a one-hour link to set a new password, if the address has an account; the address."""
    address = normalise_email(email)
    applicant = session.scalar(select(Applicant).where(Applicant.email == address))
    if applicant is not None:
        _send_link(session, settings, applicant, "password_reset", now)
    return address


def reset_password(
    session: Session, settings: Settings, token: str, password: str, *, now: datetime | None = None
) -> Applicant:
    """Set a new password with an emailed link; the link also proves the address is theirs."""
    if not token.strip():
        raise InvalidInput("The password link has no token; open the whole link from the email.")
    password_hash = hash_password(password)  # a too-short password is refused before the link is used
    moment = now or datetime.now(UTC)
    applicant = use_email_token(session, token, "reset", secret=settings.secret(), now=moment)
    applicant.password_hash = password_hash
    if applicant.email_verified_at is None:
        applicant.email_verified_at = moment
    # Other password links sent before this one stop working too.
    session.execute(
        update(EmailVerificationToken)
        .where(
            EmailVerificationToken.applicant_id == applicant.id,
            EmailVerificationToken.purpose == "reset",
            EmailVerificationToken.used_at.is_(None),
        )
        .values(used_at=moment)
    )
    session.flush()
    return applicant


def session_fingerprint(applicant: Applicant, secret: str) -> str:
    """A short keyed digest of the password hash: a session made before a password change ends."""
    material = (applicant.password_hash or "").encode("utf-8")
    return hmac.new(secret.encode("utf-8"), material, hashlib.sha256).hexdigest()[:24]
