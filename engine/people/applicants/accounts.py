"""Applicant accounts: register, confirm the email, sign in, or arrive through OIDC.

Services take a session and never commit. Emailed-link tokens (confirm the address, set a
new password) are random, kept only as a keyed hash (HMAC with the instance secret), expire,
and work once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from engine.people.accounts import check_password, hash_password
from engine.people.applicants.models import CHANNELS, LOCALES, Applicant, EmailVerificationToken
from forms.greek_ids import is_valid_greek_phone, normalise_phone

#: How long an email confirmation link works.
EMAIL_TOKEN_TTL = timedelta(hours=48)
#: How long a link to set a new password works.
RESET_TOKEN_TTL = timedelta(hours=1)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class AccountExists(Conflict):
    """Someone signed up with an address that has an account already."""

    def __init__(self, applicant: Applicant) -> None:
        super().__init__(f"An account with {applicant.email} exists already; sign in, or reset its password.")
        self.applicant = applicant


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def normalise_email(email: str) -> str:
    """``email`` trimmed and lower-cased, or InvalidInput if it cannot be an address."""
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidInput(f"{email[:80]!r} is not an email address; write it like name@example.gr.")
    return value


def _check_preferences(channel: str, locale: str, phone: str | None) -> str | None:
    if channel not in CHANNELS:
        raise InvalidInput(f"Notification channel {channel!r} is unknown; choose one of {list(CHANNELS)}.")
    if locale not in LOCALES:
        raise InvalidInput(f"Language {locale!r} is not offered; choose one of {list(LOCALES)}.")
    if phone is not None and phone.strip():
        if not is_valid_greek_phone(phone):
            raise InvalidInput(f"{phone[:20]!r} is not a Greek phone number; write it like 6912345678.")
        phone = normalise_phone(phone)
    else:
        phone = None
    if channel in ("sms", "both") and phone is None:
        raise InvalidInput("SMS notifications need a mobile phone number; add one or choose email.")
    return phone


def _token_hash(token: str, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


def issue_email_token(
    session: Session,
    applicant: Applicant,
    *,
    secret: str,
    now: datetime | None = None,
    purpose: str = "verify",
) -> str:
    """A new emailed-link token for ``applicant`` (put it in the link; we keep its hash).

    ``purpose`` is "verify" (confirm the address, 48 hours) or "reset" (set a new password,
    one hour: a reset link is worth more to whoever reads the mailbox).
    """
    if applicant.email is None:
        raise InvalidInput("This account has no email address to send a link to; add one first.")
    token = secrets.token_urlsafe(32)
    ttl = RESET_TOKEN_TTL if purpose == "reset" else EMAIL_TOKEN_TTL
    session.add(
        EmailVerificationToken(
            applicant_id=applicant.id,
            token_hash=_token_hash(token, secret),
            email=applicant.email,
            purpose=purpose,
            expires_at=_now(now) + ttl,
        )
    )
    session.flush()
    return token


def use_email_token(
    session: Session, token: str, purpose: str, *, secret: str, now: datetime | None = None
) -> Applicant:
    """The applicant a valid ``purpose`` link was sent to; the link is used up (works once)."""
    what = "password link" if purpose == "reset" else "confirmation link"
    row = session.scalar(
        select(EmailVerificationToken)
        .where(
            EmailVerificationToken.token_hash == _token_hash(token.strip(), secret),
            EmailVerificationToken.purpose == purpose,
        )
        .with_for_update()
    )
    if row is None:
        raise InvalidInput(f"This {what} is not valid; copy the whole link from the email.")
    if row.used_at is not None:
        raise Conflict(
            "This confirmation link was used already; just sign in."
            if purpose == "verify"
            else "This password link was used already; ask for a new one if you still need it."
        )
    moment = _now(now)
    if row.expires_at <= moment:
        raise InvalidInput(f"This {what} has expired; ask for a new one from the sign-in page.")
    applicant = session.get(Applicant, row.applicant_id, with_for_update=True)
    if applicant is None or applicant.email != row.email:
        raise InvalidInput(f"This {what} is for an address the account no longer uses; ask for a new one.")
    row.used_at = moment
    return applicant


def register(
    session: Session,
    *,
    email: str,
    full_name: str,
    password: str,
    secret: str,
    phone: str | None = None,
    preferred_channel: str = "email",
    preferred_locale: str = "el",
    now: datetime | None = None,
) -> tuple[Applicant, str]:
    """Create an applicant with an unconfirmed email; return it and the confirmation token."""
    address = normalise_email(email)
    name = " ".join(full_name.split())
    if len(name) < 3 or len(name) > 200:
        raise InvalidInput("Write your full name (3 to 200 characters).")
    phone = _check_preferences(preferred_channel, preferred_locale, phone)
    # Hash (and so check the password) before looking the address up: a taken address costs
    # the same time and gets the same validation errors as a free one.
    password_hash = hash_password(password)
    existing = session.scalar(select(Applicant).where(Applicant.email == address))
    if existing is not None:
        raise AccountExists(existing)
    applicant = Applicant(
        email=address,
        full_name=name,
        phone=phone,
        preferred_channel=preferred_channel,
        preferred_locale=preferred_locale,
        password_hash=password_hash,
    )
    session.add(applicant)
    session.flush()
    return applicant, issue_email_token(session, applicant, secret=secret, now=now)


def verify_email(session: Session, token: str, *, secret: str, now: datetime | None = None) -> Applicant:
    """Confirm the email the token was sent to; a token works once and only before it expires."""
    applicant = use_email_token(session, token, "verify", secret=secret, now=now)
    if applicant.email_verified_at is None:
        applicant.email_verified_at = _now(now)
    session.flush()
    return applicant


def authenticate(session: Session, email: str, password: str) -> Applicant:
    """The applicant with these credentials, or PermissionDenied (same message and time either way)."""
    try:
        address: str | None = normalise_email(email)
    except InvalidInput:
        address = None
    applicant = (
        session.scalar(select(Applicant).where(Applicant.email == address)) if address is not None else None
    )
    valid, rehashed = check_password(applicant.password_hash if applicant is not None else None, password)
    if not valid or applicant is None:
        raise PermissionDenied("Wrong email or password.")
    if applicant.email_verified_at is None:
        raise PermissionDenied("Confirm your email first: open the link we sent you, or ask for a new one.")
    if rehashed:
        applicant.password_hash = rehashed
    return applicant


def _claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def login_or_create_from_oidc(
    session: Session, issuer: str, claims: Mapping[str, Any], *, now: datetime | None = None
) -> Applicant:
    """The applicant for an identity provider's verified claims, created on first login.

    An existing password account is linked only when both the provider and Polis have
    verified the same email; otherwise a taken email is a Conflict (no silent takeover).
    """
    subject = _claim(claims, "sub")
    if not issuer.strip() or subject is None:
        raise InvalidInput("The identity provider's answer has no issuer or subject ('sub'); cannot sign in.")
    found = session.scalar(
        select(Applicant).where(Applicant.oidc_issuer == issuer, Applicant.oidc_subject == subject)
    )
    if found is not None:
        return found
    email_verified = claims.get("email_verified") is True
    address = None
    if (raw_email := _claim(claims, "email")) is not None:
        try:
            address = normalise_email(raw_email)
        except InvalidInput:
            address = None
    if address is not None:
        existing = session.scalar(select(Applicant).where(Applicant.email == address).with_for_update())
        if existing is not None:
            if email_verified and existing.email_verified_at is not None and existing.oidc_subject is None:
                existing.oidc_issuer, existing.oidc_subject = issuer, subject
                session.flush()
                return existing
            raise Conflict(
                f"An account with {address} exists already. Sign in with its password first; "
                "then the identity provider can be linked to it."
            )
    name = _claim(claims, "name") or " ".join(
        part for part in (_claim(claims, "given_name"), _claim(claims, "family_name")) if part
    )
    locale = (_claim(claims, "locale") or "el")[:2].lower()
    applicant = Applicant(
        email=address,
        full_name=(name or subject)[:200],
        # Without an email nothing can be sent yet; the portal asks for a phone or an email.
        preferred_channel="email",
        preferred_locale=locale if locale in LOCALES else "el",
        email_verified_at=_now(now) if address and email_verified else None,
        oidc_issuer=issuer,
        oidc_subject=subject,
    )
    session.add(applicant)
    session.flush()
    return applicant


def get_applicant(session: Session, applicant_id: uuid.UUID | str) -> Applicant:
    """The applicant with this id, or NotFound."""
    try:
        key = applicant_id if isinstance(applicant_id, uuid.UUID) else uuid.UUID(str(applicant_id))
    except ValueError as exc:
        raise NotFound("No such applicant.") from exc
    applicant = session.get(Applicant, key)
    if applicant is None:
        raise NotFound("No such applicant.")
    return applicant
