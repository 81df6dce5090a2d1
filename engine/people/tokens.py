"""API tokens for staff and integrations: only a hash is stored, the token is shown once.

A token acts as its user (department, roles) limited by its scopes: ``read`` allows GET
requests, ``write`` allows changes. Tokens carry 256 random bits, so a plain SHA-256 is
enough to store them (a slow password hash would protect nothing more and cost every call).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ARRAY, DateTime, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import utcnow
from core.errors import InvalidInput, NotFound, Unauthenticated
from core.orm import Base
from engine.people.models import User

SCOPES = ("read", "write")
PREFIX = "polis_"
#: ``last_used_at`` is written at most this often, so reads do not all become writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenRefused(Unauthenticated):
    """A bearer token that is unknown, revoked, expired or of a disabled user."""

    code = "token_invalid"


class ApiToken(Base):
    """A named API token of a user; ``token_hash`` is SHA-256 of the token."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so people can tell their tokens apart in `polis tokens list`.
    hint: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class IssuedToken:
    """A newly created token: ``secret`` exists only here, never in the database."""

    token: ApiToken
    secret: str


@dataclass(frozen=True)
class TokenIdentity:
    """Who a valid token speaks for, and what it may do."""

    user: User
    scopes: tuple[str, ...]
    token_id: uuid.UUID


def hash_token(secret: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session,
    user: User,
    name: str,
    *,
    scopes: tuple[str, ...] | list[str] = SCOPES,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Create a token for ``user``; the returned secret must be shown once and forgotten."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("Give the token a name of 1-200 characters (what or who uses it).")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"Unknown or missing scopes {unknown}; use one or more of {list(SCOPES)}.")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("The expiry date is in the past; give a future date or none.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        user_id=user.id,
        token_hash=hash_token(secret),
        hint=secret[: len(PREFIX) + 4],
        scopes=[s for s in SCOPES if s in scopes],
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return IssuedToken(token, secret)


def list_tokens(session: Session, user: User | None = None) -> list[ApiToken]:
    """Tokens (of ``user`` if given), newest first."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: uuid.UUID | str) -> ApiToken:
    """Revoke a token for good (revoking twice is harmless)."""
    try:
        key = token_id if isinstance(token_id, uuid.UUID) else uuid.UUID(str(token_id))
    except ValueError:
        raise NotFound(f"No token {token_id!r}; see `polis tokens list` for the ids.") from None
    token = session.get(ApiToken, key)
    if token is None:
        raise NotFound(f"No token {token_id}; see `polis tokens list` for the ids.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token


def authenticate_token(session: Session, secret: str, now: datetime | None = None) -> TokenIdentity:
    """The identity behind a bearer token, or TokenRefused (one message for every cause)."""
    now = now or utcnow()
    refused = TokenRefused(
        "The API token is not valid (unknown, revoked or expired); create a new one with "
        "`polis tokens create`."
    )
    if not secret.startswith(PREFIX) or len(secret) > 100:
        raise refused
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        raise refused
    if token.expires_at is not None and token.expires_at <= now:
        raise refused
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise refused
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.flush()
    return TokenIdentity(user=user, scopes=tuple(token.scopes), token_id=token.id)
