"""Cross-site request forgery protection for HTML forms (a per-session token)."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session


def csrf_token() -> str:
    """The session's token, created on first use; templates put it in every form."""
    token = session.get("_csrf")
    if token is None:
        token = secrets.token_urlsafe(32)
        session["_csrf"] = token
    return str(token)


def csrf_matches(sent: str) -> bool:
    """Whether ``sent`` is the session's token (compared in constant time)."""
    expected = session.get("_csrf")
    return bool(expected) and hmac.compare_digest(str(expected), sent)


def init_csrf(app: Flask) -> None:
    """Refuse state-changing form posts that do not carry the session's token."""
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _check() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
            return
        sent = request.form.get("_csrf", "") or request.headers.get("X-CSRF-Token", "")
        if not csrf_matches(sent):
            abort(400, description="The form has expired. Reload the page and try again.")
