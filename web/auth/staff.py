"""Staff sign-in and sign-out, and the current user of a request."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import NotFound, PermissionDenied, PolisError
from engine.people.accounts import authenticate, end_all_sessions, session_fingerprint
from engine.people.acting import account_with_positions, acting_in, switch_position
from engine.people.staff_reset import reset_staff_password
from web.auth.kept_forms import SESSION_KEY as KEPT_FORM_KEY
from web.auth.kept_forms import land_after_sign_in
from web.context import db, services
from web.ratelimit import SharedWindow, client_address
from web.redirects import safe_next

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


#: Staff sign-in attempts: per client address, and failures per account name.
LOGIN_PER_ADDRESS = SharedWindow("staff_login_per_ip", limit=20, window=300.0)
LOGIN_FAILURES_PER_ACCOUNT = SharedWindow("staff_login_failures_per_account", limit=5, window=900.0)
FINGERPRINT_KEY = "user_auth"


def current_user() -> Any:
    """The signed-in member of staff acting in the position the session remembers, or None.

    The session holds the account id and a keyed digest of its password hash and session
    epoch: a password change, a sign-out (anywhere) or a deactivation ends it, also in a
    copied cookie.
    """
    if "user" not in g:
        g.user = None
        user_id = session.get("user_id")
        if user_id:
            try:
                # The account, its positions and its running substitutions: one round trip.
                user, choices = account_with_positions(db(), user_id)
            except NotFound:
                session.pop("user_id", None)
            else:
                expected = session_fingerprint(user, services().settings.secret())
                if user.is_active and hmac.compare_digest(str(session.get(FINGERPRINT_KEY, "")), expected):
                    g.user = acting_in(user, choices, session.get("position"))
                else:
                    # Ended (signed out elsewhere, password changed, deactivated): a form posted
                    # now is kept for this account only (web.auth.kept_forms).
                    g.ended_user_id = user.id
                    session.pop("user_id", None)
                    session.pop(FINGERPRINT_KEY, None)
    return g.user


def start_staff_session(user: Any) -> None:
    """Sign ``user`` in (a fresh session: nothing of the anonymous one is kept)."""
    session.clear()
    session["user_id"] = str(user.id)
    session[FINGERPRINT_KEY] = session_fingerprint(user, services().settings.secret())
    session.permanent = True


def login_required(view: F) -> F:
    """Send anonymous visitors to the sign-in page, then back."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return cast(F, wrapper)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """The sign-in form for staff."""
    error = None
    status = 200
    if request.method == "POST":
        account = request.form.get("username", "").strip().lower()[:64]
        # Throttled per address and per account, shared by every worker: the same answer
        # whether or not the password was right, so a guesser learns nothing once blocked.
        if LOGIN_FAILURES_PER_ACCOUNT.over(account) or not LOGIN_PER_ADDRESS.hit(client_address()):
            error = _("Too many sign-in attempts; wait a few minutes and try again.")
            status = 429
        else:
            try:
                user = authenticate(db(), account, request.form.get("password", ""))
            except PermissionDenied:
                LOGIN_FAILURES_PER_ACCOUNT.hit(account)
                error = _("Wrong username or password.")
            else:
                LOGIN_FAILURES_PER_ACCOUNT.reset(account)
                kept = session.get(KEPT_FORM_KEY)
                start_staff_session(user)
                # A form posted after the session ended comes back filled in on its page.
                landing = land_after_sign_in(kept, user.id)
                return redirect(landing or safe_next(request.args.get("next"), url_for("main.index")))
    page = render_template("login.html", error=error, username=request.form.get("username", ""))
    return Response(page, status=status, mimetype="text/html")


@bp.post("/position")
@login_required
def choose_position() -> Response:
    """Act in another of one's positions (the header's switch); the session remembers it."""
    key = request.form.get("position", "")
    acting = switch_position(db(), current_user().user, key)
    session["position"] = acting.position.key
    return redirect(safe_next(request.form.get("next"), url_for("main.index")))


@bp.post("/logout")
def logout() -> Response:
    """Sign out: this account's sessions end everywhere (a copied cookie too)."""
    user = current_user()
    if user is not None:
        end_all_sessions(db(), user)
    session.clear()
    return redirect(url_for("main.index"))


@bp.route("/staff/password/<token>", methods=["GET", "POST"])
def set_password_with_link(token: str) -> tuple[str, int]:
    """The page an emailed password link opens: choose a password, twice."""
    error, done = None, False
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("password_again", ""):
            error = _("The two passwords differ; type the same one twice.")
        else:
            try:
                reset_staff_password(db(), services().settings, token, password)
                done = True
            except PolisError as exc:
                error = exc.message
    status = 422 if error else 200
    return render_template("staff_password.html", token=token, error=error, done=done), status
