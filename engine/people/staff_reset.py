"""A link an administrator emails to a member of staff to set their password.

The link is signed (the settings' secret), lasts an hour and works once: it carries a
fingerprint of the password hash it was made for, so setting a password ends it (and every
other link sent before). Setting the password goes through set_staff_password, the one
engine function that changes a staff password (where ending sessions will hook in).
"""

from __future__ import annotations

import hashlib
import uuid

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from core.errors import InvalidInput, PermissionDenied
from core.settings import Settings
from engine.notifications.outbox import enqueue_notification
from engine.people.admin_audit import AdminActor, record_admin_event
from engine.people.models import User
from engine.people.orgchart import set_staff_password

LINK_SECONDS = 3600
_SALT = "staff-password-reset"


class ResetLinkRefused(PermissionDenied):
    """A password link that is expired, used or altered."""

    code = "reset_link_invalid"


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "no-password").encode()).hexdigest()[:16]


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret(), salt=_SALT)


def reset_url(settings: Settings, token: str) -> str:
    """The page where the link lands."""
    return f"{settings.public_base_url}/staff/password/{token}"


def send_staff_reset_link(session: Session, settings: Settings, user: User, *, by: AdminActor) -> str:
    """Email ``user`` a one-hour link to set their password (audited); the address it went to."""
    if not user.email:
        raise InvalidInput(
            f"{user.username} has no email address; add one or use `polis users set-password`."
        )
    if not user.is_active:
        raise InvalidInput(f"{user.username} is deactivated; reactivate them first.")
    token = _signer(settings).dumps({"u": str(user.id), "h": _fingerprint(user.password_hash)})
    enqueue_notification(
        session,
        channel="email",
        recipient=user.email,
        locale="el",
        template_key="staff_password_reset",
        values={
            "staff_name": user.full_name,
            "reset_url": reset_url(settings, token),
            "municipality_name": settings.municipality_name,
        },
    )
    record_admin_event(session, by, "user.reset_link_sent", {"username": user.username, "email": user.email})
    return user.email


def reset_staff_password(session: Session, settings: Settings, token: str, password: str) -> User:
    """Set the password a link was sent for; ResetLinkRefused if it expired or was used."""
    refused = ResetLinkRefused(
        "This password link has expired or was already used; ask an administrator for a new one."
    )
    try:
        payload = _signer(settings).loads(token, max_age=LINK_SECONDS)
        user = session.get(User, uuid.UUID(str(payload["u"])))
    except (BadSignature, SignatureExpired, KeyError, ValueError, TypeError):
        raise refused from None
    if user is None or not user.is_active or payload.get("h") != _fingerprint(user.password_hash):
        raise refused
    set_staff_password(session, user, password, by=AdminActor(user.id, f"{user.full_name} (password link)"))
    return user
