"""API tokens from the administration pages: create one for a member of staff (its secret is
returned once and never stored), list them, revoke one. Audited without the secret.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ATHENS, utcnow
from core.errors import InvalidInput, NotFound
from engine.administration.access import acting_admin, require_admin
from engine.people.admin_audit import AdminActor, record_admin_event
from engine.people.models import User
from engine.people.orgchart import find_user_by_username
from engine.people.tokens import ApiToken, IssuedToken, create_token, revoke_token
from engine.workflow.directory import Performer


@dataclass(frozen=True)
class TokenRow:
    """A token with the username it speaks for."""

    token: ApiToken
    username: str
    full_name: str
    state: str  # active | expired | revoked


def token_rows(session: Session, user: Performer) -> list[TokenRow]:
    """Every token, newest first, with its owner."""
    require_admin(user)
    rows = session.execute(
        select(ApiToken, User.username, User.full_name)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    ).all()
    now = utcnow()

    def state(token: ApiToken) -> str:
        if token.revoked_at is not None:
            return "revoked"
        return "expired" if token.expires_at is not None and token.expires_at <= now else "active"

    return [TokenRow(token, username, full_name, state(token)) for token, username, full_name in rows]


def issue_token(
    session: Session,
    user: Performer | AdminActor,
    *,
    owner: str,
    name: str,
    scopes: list[str] | tuple[str, ...],
    expires_on: date | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Create a token for ``owner`` (a username), valid through ``expires_on`` (an Athens day)
    or until ``expires_at``; the secret is in the result only."""
    by = acting_admin(user)
    if not name.strip():
        raise InvalidInput("Give the token a name: what or who uses it.", field="token_name")
    if not scopes:
        raise InvalidInput("Choose what the token may do: read, write or both.", field="token_scopes")
    person = find_user_by_username(session, owner)
    if expires_on is not None:  # valid through that Athens day
        expires_at = datetime.combine(expires_on, time(23, 59, 59), ATHENS)
    issued = create_token(session, person, name, scopes=scopes, expires_at=expires_at)
    record_admin_event(
        session,
        by,
        "token.create",
        {
            "token": str(issued.token.id),
            "name": issued.token.name,
            "username": person.username,
            "hint": issued.token.hint,
            "scopes": list(issued.token.scopes),
            "expires_at": expires_at,
        },
    )
    return issued


def withdraw_token(session: Session, user: Performer | AdminActor, token_id: str) -> ApiToken:
    """Revoke a token for good (audited once; revoking again changes nothing)."""
    by = acting_admin(user)
    try:
        key = uuid.UUID(token_id)
    except ValueError:
        raise NotFound(f"No token {token_id!r}; `polis tokens list` or the tokens page lists them.") from None
    before = session.get(ApiToken, key)
    was_revoked = before is not None and before.revoked_at is not None
    token = revoke_token(session, key)
    if not was_revoked:
        record_admin_event(session, by, "token.revoke", {"token": str(token.id), "name": token.name})
    return token
