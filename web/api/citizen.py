"""Citizens' accounts over JSON: sign up, confirm the email, sign in and out, their own cases.

The citizen's session key is ``session["applicant_id"]``, apart from staff's ``user_id``.
Cross-site requests: ``web/csrf.py`` exempts ``/api/``, so the state-changing calls here
accept only ``application/json`` bodies (a cross-site page cannot send those without a CORS
preflight, which Polis never grants) or a valid ``X-CSRF-Token`` header; the session cookie
is also ``SameSite=Lax``.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import TooManyRequests

from core.errors import InvalidInput, PermissionDenied
from engine.people.applicants.accounts import authenticate, normalise_email, verify_email
from engine.people.applicants.models import Applicant
from engine.people.applicants.signup import request_password_reset, reset_password, sign_up
from engine.requests.my_requests import applicant_case, applicant_cases
from engine.requests.tracking import Tracking
from web.api.input import json_object
from web.api.requests import tracking_json
from web.auth.citizen import check_same_site_write, end_session, signed_in, start_session
from web.context import db, services
from web.csrf import csrf_token
from web.links import public_url
from web.ratelimit import SharedWindow, client_address

bp = Blueprint("api_citizen", __name__, url_prefix="/api/v1/citizen")

#: Sign-in attempts per client address, and failed ones per email address.
LOGIN_PER_IP = SharedWindow("citizen_login_per_ip", limit=20, window=300.0)
LOGIN_FAILURES_PER_EMAIL = SharedWindow("citizen_login_failures_per_email", limit=5, window=900.0)
SIGNUPS_PER_IP = SharedWindow("citizen_signups_per_ip", limit=10, window=3600.0)
VERIFY_PER_IP = SharedWindow("citizen_verify_per_ip", limit=30, window=600.0)
RESETS_PER_IP = SharedWindow("citizen_resets_per_ip", limit=10, window=3600.0)
RESETS_PER_EMAIL = SharedWindow("citizen_resets_per_email", limit=3, window=3600.0)
#: Failed sign-ins answer no sooner than this, so timing tells nothing about the account.
LOGIN_FAILURE_FLOOR = 0.2
_BODY_HINT = "The request must be a JSON object; see the API description for its fields."


def _too_many(what: str) -> TooManyRequests:
    return TooManyRequests(description=f"Too many {what} from here; wait a few minutes and try again.")


@bp.before_request
def _cross_site_guard() -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_same_site_write()


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


@bp.post("/register")
def register() -> tuple[Response, int]:
    """Sign up; 202 whether or not the address had an account (the mailbox owner learns which)."""
    if not SIGNUPS_PER_IP.hit(client_address()):
        raise _too_many("sign-ups")
    body = json_object(_BODY_HINT)
    address = sign_up(
        db(),
        services().settings,
        email=_text(body, "email") or "",
        full_name=_text(body, "name") or "",
        password=_text(body, "password") or "",
        phone=_text(body, "phone", required=False),
        preferred_channel=_text(body, "channel", required=False) or "email",
        preferred_locale=_text(body, "locale", required=False) or "el",
    )
    message = "We sent an email to this address; open its link to confirm it, then sign in."
    return jsonify({"email": address, "message": message}), 202


@bp.post("/password/forgot")
def forgot_password() -> tuple[Response, int]:
    """Email a link to set a new password; the same 202 for an address without an account."""
    body = json_object(_BODY_HINT)
    email = _text(body, "email") or ""
    address = normalise_email(email)
    if not RESETS_PER_IP.hit(client_address()):
        raise _too_many("password requests")
    # Beyond a few links an hour per address, say the same but send nothing (no mail bombing).
    if RESETS_PER_EMAIL.hit(address):
        request_password_reset(db(), services().settings, address)
    message = "If this address has an account, we sent it a link to set a new password (valid one hour)."
    return jsonify({"email": address, "message": message}), 202


@bp.post("/password/reset")
def set_password() -> Response:
    """Set a new password with the token of the emailed link; then sign in with it."""
    if not VERIFY_PER_IP.hit(client_address()):
        raise _too_many("password attempts")
    body = json_object(_BODY_HINT)
    applicant = reset_password(
        db(), services().settings, _text(body, "token") or "", _text(body, "password") or ""
    )
    return jsonify(applicant_json(applicant) | {"message": "Your new password is set; sign in with it."})


@bp.post("/verify")
def verify() -> Response:
    """Confirm the email with the token from the confirmation link."""
    if not VERIFY_PER_IP.hit(client_address()):
        raise _too_many("confirmation attempts")
    token = _text(json_object(_BODY_HINT), "token") or ""
    applicant = verify_email(db(), token, secret=services().settings.secret())
    return jsonify(applicant_json(applicant))


@bp.post("/login")
def login() -> Response:
    """Sign in with email and password; the same 403 for an unknown email and a wrong password."""
    started = time.monotonic()
    body = json_object(_BODY_HINT)
    email = _text(body, "email") or ""
    password = _text(body, "password") or ""
    try:
        email_key = normalise_email(email)
    except InvalidInput:
        email_key = email.strip().lower()[:254]
    if LOGIN_FAILURES_PER_EMAIL.over(email_key) or not LOGIN_PER_IP.hit(client_address()):
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
    end_session()
    return "", 204


@bp.get("/me")
def me() -> Response:
    """The signed-in citizen's account."""
    # The CSRF token is for multipart submissions (POST /api/v1/requests with attachments).
    response = jsonify(applicant_json(signed_in()) | {"csrf_token": csrf_token()})
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
        "url": public_url("api_citizen.case_detail", code=code),
    }


def _locale(applicant: Applicant) -> str:
    asked = request.args.get("lang")
    return asked if asked in ("el", "en") else applicant.preferred_locale


@bp.get("/cases")
def cases() -> Response:
    """The signed-in citizen's own requests, newest first."""
    applicant = signed_in()
    locale = _locale(applicant)
    listed = [_summary(code, state, locale) for code, state in applicant_cases(db(), applicant)]
    response = jsonify({"cases": listed})
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/cases/<code>")
def case_detail(code: str) -> Response:
    """One of the signed-in citizen's requests (404 for anyone else's)."""
    applicant = signed_in()
    state = applicant_case(db(), applicant, code)
    body = tracking_json(state, code, _locale(applicant)) | {"tracking_code": code}
    response = jsonify(body)
    response.headers["Cache-Control"] = "private, no-store"
    return response
