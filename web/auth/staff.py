"""Staff sign-in and sign-out, and the current user of a request."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import NotFound, PermissionDenied, PolisError
from engine.people.accounts import authenticate, get_user
from engine.people.acting import acting_staff, switch_position
from engine.people.staff_reset import reset_staff_password
from web.context import db, services
from web.redirects import safe_next

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


def current_user() -> Any:
    """The signed-in member of staff acting in the position the session remembers, or None."""
    if "user" not in g:
        g.user = None
        user_id = session.get("user_id")
        if user_id:
            try:
                user = get_user(db(), user_id)
                g.user = acting_staff(db(), user, session.get("position")) if user.is_active else None
            except NotFound:
                session.pop("user_id", None)
    return g.user


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
    if request.method == "POST":
        try:
            user = authenticate(db(), request.form.get("username", ""), request.form.get("password", ""))
        except PermissionDenied:
            error = _("Wrong username or password.")
        else:
            session.clear()
            session["user_id"] = str(user.id)
            session.permanent = True
            return redirect(safe_next(request.args.get("next"), url_for("main.index")))
    return render_template("login.html", error=error, username=request.form.get("username", ""))


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
    """Sign out and forget the session."""
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
