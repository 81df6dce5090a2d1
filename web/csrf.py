"""Cross-site request forgery protection for HTML forms (a per-session token)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, request, session

from web.auth.staff import current_user

F = TypeVar("F", bound=Callable[..., Any])


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


def keeps_draft(view: F) -> F:
    """Mark a form view that shows its form again, answers kept, when the token has expired.

    A citizen who filled a long form and comes back after the session ended must not lose
    it: instead of 400, the view runs with ``g.csrf_expired`` set, must change nothing, and
    shows the posted answers again with a fresh token (``csrf_expired()``).
    """
    view.keeps_draft = True  # type: ignore[attr-defined]
    return view


def csrf_expired() -> bool:
    """Whether this post came with a missing or stale token to a ``keeps_draft`` view."""
    return bool(g.get("csrf_expired"))


def init_csrf(app: Flask) -> None:
    """Refuse state-changing form posts that do not carry the session's token."""
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _check() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
            return
        sent = request.form.get("_csrf", "") or request.headers.get("X-CSRF-Token", "")
        if not csrf_matches(sent):
            if request.blueprint == "staff" and current_user() is None:
                # The session ended (its token with it): the staff guard keeps what was typed
                # and sends the reader to sign in; the view itself never runs.
                return
            view = current_app.view_functions.get(request.endpoint or "")
            if getattr(view, "keeps_draft", False):
                g.csrf_expired = True
                return
            abort(400, description="The form has expired. Reload the page and try again.")
