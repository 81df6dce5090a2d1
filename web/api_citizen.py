"""Citizens' accounts over JSON: sign up, confirm the email, sign in and out, their own cases.

The citizen's session key is ``session["applicant_id"]``, apart from staff's ``user_id``.
Cross-site requests: ``web/csrf.py`` exempts ``/api/``, so the state-changing calls here
accept only ``application/json`` bodies (a cross-site page cannot send those without a CORS
preflight, which Polis never grants) or a valid ``X-CSRF-Token`` header; the session cookie
is also ``SameSite=Lax``.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request, session, url_for
from werkzeug.exceptions import TooManyRequests, Unauthorized

from core.errors import InvalidInput, NotFound, PermissionDenied
from engine.applicants.cases import applicant_case, applicant_cases
from engine.applicants.models import Applicant
from engine.applicants.service import authenticate, get_applicant, normalise_email, verify_email
from engine.applicants.signup import sign_up
from engine.requests.tracking import Tracking
from web.api_requests import tracking_json
from web.ratelimit import SlidingWindow
from web.services import db, services

bp = Blueprint("api_citizen", __name__, url_prefix="/api/v1/citizen")

#: Sign-in attempts per client address, and failed ones per email address.
LOGIN_PER_IP = SlidingWindow(limit=20, window=300.0)
LOGIN_FAILURES_PER_EMAIL = SlidingWindow(limit=5, window=900.0)
SIGNUPS_PER_IP = SlidingWindow(limit=10, window=3600.0)
VERIFY_PER_IP = SlidingWindow(limit=30, window=600.0)
#: Failed sign-ins answer no sooner than this, so timing tells nothing about the account.
LOGIN_FAILURE_FLOOR = 0.2
SESSION_KEY = "applicant_id"


def _client() -> str:
    return request.remote_addr or "unknown"


def _too_many(what: str) -> TooManyRequests:
    return TooManyRequests(description=f"Too many {what} from here; wait a few minutes and try again.")


@bp.before_request
def _cross_site_guard() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.mimetype == "application/json":
        return
    sent = request.headers.get("X-CSRF-Token", "")
    expected = session.get("_csrf")
    if expected and hmac.compare_digest(str(expected), sent):
        return
    raise InvalidInput("Send a JSON body (Content-Type: application/json) or the page's X-CSRF-Token header.")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("The request must be a JSON object; see the API description for its fields.")
    return body


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"'{name}' is required.", field=name)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"'{name}' must be a string.", field=name)
    return value


def applicant_json(applicant: Applicant) -> dict[str, Any]:
    """What a signed-in citizen sees of their own account."""
    return {
        "id": str(applicant.id),
        "name": applicant.full_name,
        "email": applicant.email,
        "email_verified": applicant.email_verified_at is not None,
        "phone": applicant.phone,
        "channel": applicant.preferred_channel,
        "locale": applicant.preferred_locale,
        "identity_provider_linked": applicant.oidc_subject is not None,
    }


def signed_in() -> Applicant:
    """The signed-in citizen, or 401."""
    applicant_id = session.get(SESSION_KEY)
    if not applicant_id:
        raise Unauthorized(description="Sign in first (POST /api/v1/citizen/login).")
    try:
        return get_applicant(db(), applicant_id)
    except NotFound:  # the account is gone: the cookie is worthless
        session.pop(SESSION_KEY, None)
        raise Unauthorized(description="Your session has ended; sign in again.") from None


def start_session(applicant: Applicant) -> None:
    """Sign ``applicant`` in (staff sign-in, if any, is left alone)."""
    session[SESSION_KEY] = str(applicant.id)
    session.permanent = True


@bp.post("/register")
def register() -> tuple[Response, int]:
    """Create an account; 201, and the confirmation email waits in the outbox."""
    if not SIGNUPS_PER_IP.hit(_client()):
        raise _too_many("sign-ups")
    body = _body()
    applicant = sign_up(
        db(),
        services().settings,
        email=_text(body, "email") or "",
        full_name=_text(body, "name") or "",
        password=_text(body, "password") or "",
        phone=_text(body, "phone", required=False),
        preferred_channel=_text(body, "channel", required=False) or "email",
        preferred_locale=_text(body, "locale", required=False) or "el",
    )
    answer = applicant_json(applicant) | {
        "message": "We sent you an email; open its link to confirm your address, then sign in."
    }
    return jsonify(answer), 201


@bp.post("/verify")
def verify() -> Response:
    """Confirm the email with the token from the confirmation link."""
    if not VERIFY_PER_IP.hit(_client()):
        raise _too_many("confirmation attempts")
    token = _text(_body(), "token") or ""
    applicant = verify_email(db(), token, secret=services().settings.secret())
    return jsonify(applicant_json(applicant))


@bp.post("/login")
def login() -> Response:
    """Sign in with email and password; the same 403 for an unknown email and a wrong password."""
    started = time.monotonic()
    body = _body()
    email = _text(body, "email") or ""
    password = _text(body, "password") or ""
    try:
        email_key = normalise_email(email)
    except InvalidInput:
        email_key = email.strip().lower()[:254]
    if LOGIN_FAILURES_PER_EMAIL.over(email_key) or not LOGIN_PER_IP.hit(_client()):
        raise _too_many("sign-in attempts")
    try:
        applicant = authenticate(db(), email, password)
    except PermissionDenied:
        LOGIN_FAILURES_PER_EMAIL.hit(email_key)
        time.sleep(max(0.0, started + LOGIN_FAILURE_FLOOR - time.monotonic()))
        raise
    start_session(applicant)
    return jsonify(applicant_json(applicant))


@bp.post("/logout")
def logout() -> tuple[str, int]:
    """Sign out (staff sign-in, if any, stays)."""
    session.pop(SESSION_KEY, None)
    return "", 204


@bp.get("/me")
def me() -> Response:
    """The signed-in citizen's account."""
    response = jsonify(applicant_json(signed_in()))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _summary(code: str, state: Tracking, locale: str) -> dict[str, Any]:
    full = state.as_dict(locale)
    return {
        "tracking_code": code,
        "case_number": full["case_number"],
        "service": full["service"],
        "status": full["status"],
        "status_label": full["status_label"],
        "submitted_at": full["submitted_at"],
        "protocol_number": full["protocol_number"],
        "expected_by": full["expected_by"],
        "url": url_for("api_citizen.case_detail", code=code, _external=True),
    }


def _locale(applicant: Applicant) -> str:
    asked = request.args.get("lang")
    return asked if asked in ("el", "en") else applicant.preferred_locale


@bp.get("/cases")
def cases() -> Response:
    """The signed-in citizen's own requests, newest first."""
    applicant = signed_in()
    locale = _locale(applicant)
    listed = [_summary(code, state, locale) for code, state in applicant_cases(db(), applicant.id)]
    response = jsonify({"cases": listed})
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/cases/<code>")
def case_detail(code: str) -> Response:
    """One of the signed-in citizen's requests (404 for anyone else's)."""
    applicant = signed_in()
    state = applicant_case(db(), applicant.id, code)
    body = tracking_json(state, code, _locale(applicant)) | {"tracking_code": code}
    response = jsonify(body)
    response.headers["Cache-Control"] = "private, no-store"
    return response
