"""Citizens' accounts in the browser: sign up, sign in (password or the municipality's OpenID
Connect provider), forgotten password, sign out, and "My requests".

The same engine services and rate limits as the JSON API (``web/api/citizen.py``); forms carry
the CSRF token (``web/csrf.py``). After signing in, a citizen goes back where they came from
(``next``), e.g. to the form of a service that requires sign-in.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import InvalidInput, PermissionDenied
from engine.people.accounts import PasswordTooShort
from engine.people.applicants.accounts import authenticate, normalise_email
from engine.people.applicants.signup import request_password_reset, sign_up
from engine.requests.my_requests import applicant_cases
from web.api.citizen import (
    LOGIN_FAILURE_FLOOR,
    LOGIN_FAILURES_PER_EMAIL,
    LOGIN_PER_IP,
    RESETS_PER_EMAIL,
    RESETS_PER_IP,
    SIGNUPS_PER_IP,
)
from web.auth.citizen import current_applicant, end_session, start_session
from web.auth.oidc import oidc_configured
from web.context import db, services
from web.pages.citizen.catalogue import locale
from web.ratelimit import client_address
from web.redirects import safe_next

bp = Blueprint("account", __name__, url_prefix="/citizen")


#: Where a citizen who signed up is sent after the first sign-in: the emailed confirmation
#: link cannot carry it, so the browser's session does.
AFTER_SIGN_UP = "citizen_next"


def _next() -> str:
    remembered = session.get(AFTER_SIGN_UP)
    return safe_next(request.values.get("next") or remembered, url_for("account.my_requests"))


def _too_many() -> str:
    return str(_("Too many attempts from here. Wait a few minutes and try again."))


def _sign_in_page(errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    html = render_template(
        "citizen/account/sign_in.html",
        errors=errors,
        values={"email": request.form.get("email", "")},
        next=request.values.get("next", ""),
        oidc=oidc_configured(),
    )
    return html, status


@bp.get("/sign-in")
def sign_in_form() -> Any:
    """The sign-in form (already signed in: straight on)."""
    if current_applicant() is not None:
        return redirect(_next())
    return _sign_in_page({})


@bp.post("/sign-in")
def sign_in() -> Any:
    """Check email and password; the same answer for an unknown email and a wrong password."""
    started = time.monotonic()
    email = request.form.get("email", "")
    try:
        email_key = normalise_email(email)
    except InvalidInput:
        email_key = email.strip().lower()[:254]
    if LOGIN_FAILURES_PER_EMAIL.over(email_key) or not LOGIN_PER_IP.hit(client_address()):
        return _sign_in_page({"email": _too_many()}, 429)
    try:
        applicant = authenticate(db(), email, request.form.get("password", ""))
    except PermissionDenied as exc:
        LOGIN_FAILURES_PER_EMAIL.hit(email_key)
        time.sleep(max(0.0, started + LOGIN_FAILURE_FLOOR - time.monotonic()))
        unconfirmed = "Confirm your email" in exc.message
        message = (
            _("Confirm your email first: open the link we sent you.")
            if unconfirmed
            else _("Wrong email or password.")
        )
        return _sign_in_page({"email": message}, 403)
    start_session(applicant)
    target = _next()
    session.pop(AFTER_SIGN_UP, None)
    return redirect(target, code=303)


@bp.post("/sign-out")
def sign_out() -> Response:
    """Sign the citizen out and go to the front page."""
    end_session()
    return redirect(url_for("main.index"), code=303)


def _sign_up_page(errors: dict[str, str], status: int = 200, sent_to: str | None = None) -> tuple[str, int]:
    form = request.form
    html = render_template(
        "citizen/account/sign_up.html",
        errors=errors,
        values={name: form.get(name, "") for name in ("name", "email", "phone", "channel")},
        next=request.values.get("next", ""),
        sent_to=sent_to,
    )
    return html, status


@bp.get("/sign-up")
def sign_up_form() -> tuple[str, int]:
    """The sign-up form."""
    return _sign_up_page({})


@bp.post("/sign-up")
def sign_up_submit() -> tuple[str, int]:
    """Create the account and email the confirmation link (the same answer for a taken address)."""
    form = request.form
    errors: dict[str, str] = {}
    if len(" ".join(form.get("name", "").split())) < 3:
        errors["name"] = _("Write your full name.")
    if form.get("password", "") != form.get("password_again", ""):
        errors["password_again"] = _("The two passwords differ; type the same password twice.")
    if errors:
        return _sign_up_page(errors, 422)
    if not SIGNUPS_PER_IP.hit(client_address()):
        return _sign_up_page({"email": _too_many()}, 429)
    try:
        address = sign_up(
            db(),
            services().settings,
            email=form.get("email", ""),
            full_name=form.get("name", ""),
            password=form.get("password", ""),
            phone=form.get("phone") or None,
            preferred_channel=form.get("channel") or "email",
            preferred_locale=locale(),
        )
    except PasswordTooShort:
        db().rollback()
        return _sign_up_page({"password": _("A password needs at least 8 characters.")}, 422)
    except InvalidInput as exc:
        db().rollback()
        return _sign_up_page(_sign_up_problem(exc.message), 422)
    if request.form.get("next"):
        session[AFTER_SIGN_UP] = safe_next(request.form["next"], url_for("account.my_requests"))
    return _sign_up_page({}, 202, sent_to=address)


def _sign_up_problem(message: str) -> dict[str, str]:
    # The engine's messages are English sentences for the API; the page says it per field.
    if "phone number; write" in message:
        return {"phone": _("Write a Greek mobile number, e.g. 6912345678.")}
    if "SMS notifications need" in message:
        return {"phone": _("SMS notices need a mobile phone number; add one or choose email.")}
    if "name" in message.lower() and "email" not in message.lower():
        return {"name": _("Write your full name.")}
    return {"email": _("Write a valid email address, e.g. name@example.gr.")}


@bp.route("/forgot", methods=["GET", "POST"])
def forgot() -> tuple[str, int]:
    """Ask for a link that sets a new password (the same answer whether or not the account exists)."""
    sent = False
    error = None
    if request.method == "POST":
        try:
            address = normalise_email(request.form.get("email", ""))
        except InvalidInput:
            error = _("Write a valid email address, e.g. name@example.gr.")
        else:
            if not RESETS_PER_IP.hit(client_address()):
                error = _too_many()
            else:
                if RESETS_PER_EMAIL.hit(address):
                    request_password_reset(db(), services().settings, address)
                sent = True
    html = render_template(
        "citizen/account/forgot.html", sent=sent, error=error, email=request.form.get("email", "")
    )
    return html, 422 if error else 200


@bp.get("/requests")
def my_requests() -> Any:
    """The signed-in citizen's requests with their status and next step."""
    applicant = current_applicant()
    if applicant is None:
        return redirect(url_for("account.sign_in_form", next=request.path))
    cases = applicant_cases(db(), applicant)
    return render_template("citizen/account/requests.html", applicant=applicant, cases=cases, lang=locale())
