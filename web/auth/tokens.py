"""Who is calling the staff API: an API token (``Authorization: Bearer``) or the session cookie.

Bearer requests carry no cookie, so cross-site request forgery cannot ride on them: they are
exempt from CSRF. Cookie-session writes must send the session's CSRF token in the
``X-CSRF-Token`` header (``GET /api/v1/me`` hands it out). A token's scopes limit it:
``read`` for GET, ``write`` for changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g, request

from core.errors import PermissionDenied, Unauthenticated
from engine.people.acting import acting_staff
from engine.people.tokens import authenticate_token
from web.auth.staff import current_user
from web.context import db
from web.csrf import csrf_matches

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class SignInRequired(Unauthenticated):
    """Neither a token nor a signed-in session came with the request."""

    code = "authentication_required"


class TokenScopeMissing(PermissionDenied):
    """The token lacks the scope the request needs."""

    code = "token_scope_missing"


class CsrfRefused(PermissionDenied):
    """A cookie-session write without the session's CSRF token."""

    code = "csrf_token_invalid"


@dataclass(frozen=True)
class ApiIdentity:
    """The caller of an API request."""

    user: Any
    via: str  # "token" or "session"
    scopes: tuple[str, ...]


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header; None without such a header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise SignInRequired("Send the API token as 'Authorization: Bearer <token>'.")
    return value.strip()


def api_identity() -> ApiIdentity | None:
    """The caller, or None when no credentials came (an invalid token raises 401)."""
    if "api_identity" not in g:
        token = bearer_token()
        if token is not None:
            found = authenticate_token(db(), token)
            # A token acts in its user's first position (an integration has no switch).
            g.api_identity = ApiIdentity(acting_staff(db(), found.user), "token", found.scopes)
        else:
            user = current_user()
            g.api_identity = ApiIdentity(user, "session", ("read", "write")) if user else None
    identity: ApiIdentity | None = g.api_identity
    return identity


def require_staff() -> Any:
    """The member of staff behind the request, after the scope and CSRF checks of its method."""
    identity = api_identity()
    if identity is None:
        raise SignInRequired(
            "Sign in first: send 'Authorization: Bearer <token>' (see `polis tokens create`) "
            "or the session cookie of POST /login."
        )
    writing = request.method not in SAFE_METHODS
    needed = "write" if writing else "read"
    if needed not in identity.scopes:
        raise TokenScopeMissing(f"This API token lacks the '{needed}' scope; create one that has it.")
    if writing and identity.via == "session" and not csrf_matches(request.headers.get("X-CSRF-Token", "")):
        raise CsrfRefused(
            "Send the session's CSRF token in the X-CSRF-Token header (from GET /api/v1/me), "
            "or use an API token."
        )
    return identity.user
