"""A citizen's sign-in in the session cookie, apart from staff's ``user_id``.

The cookie holds the account id and a keyed digest of its password hash, so setting a new
password ends every session made before it.
"""

from __future__ import annotations

import hmac

from flask import request, session
from werkzeug.exceptions import Unauthorized

from core.errors import InvalidInput, NotFound
from engine.people.applicants.accounts import get_applicant
from engine.people.applicants.models import Applicant
from engine.people.applicants.signup import session_fingerprint
from web.context import db, services
from web.csrf import csrf_matches

SESSION_KEY = "applicant_id"
FINGERPRINT_KEY = "applicant_auth"


def start_session(applicant: Applicant) -> None:
    """Sign ``applicant`` in (staff sign-in, if any, is left alone)."""
    session[SESSION_KEY] = str(applicant.id)
    session[FINGERPRINT_KEY] = session_fingerprint(applicant, services().settings.secret())
    session.permanent = True


def end_session() -> None:
    """Sign the citizen out (staff sign-in, if any, stays)."""
    session.pop(SESSION_KEY, None)
    session.pop(FINGERPRINT_KEY, None)


def current_applicant() -> Applicant | None:
    """The signed-in citizen, None if nobody is, or 401 if the session has ended."""
    applicant_id = session.get(SESSION_KEY)
    if not applicant_id:
        return None
    try:
        applicant = get_applicant(db(), applicant_id)
    except NotFound:  # the account is gone: the cookie is worthless
        end_session()
        raise Unauthorized(description="Your session has ended; sign in again.") from None
    expected = session_fingerprint(applicant, services().settings.secret())
    if not hmac.compare_digest(str(session.get(FINGERPRINT_KEY, "")), expected):
        end_session()  # the password changed since this session began
        raise Unauthorized(description="Your session has ended; sign in again.")
    return applicant


def signed_in() -> Applicant:
    """The signed-in citizen, or 401."""
    applicant = current_applicant()
    if applicant is None:
        raise Unauthorized(description="Sign in first (POST /api/v1/citizen/login).")
    return applicant


def check_same_site_write() -> None:
    """Refuse a write that a cross-site page could have sent with the citizen's cookie.

    ``web/csrf.py`` leaves ``/api/`` alone; a JSON body needs a CORS preflight that Polis never
    grants, so only other bodies (forms, multipart) must carry the page's ``X-CSRF-Token``.
    """
    if request.mimetype == "application/json":
        return
    if csrf_matches(request.headers.get("X-CSRF-Token", "")):
        return
    raise InvalidInput(
        "Signed in, a form or multipart request must send the X-CSRF-Token header "
        "(from GET /api/v1/citizen/me); or send a JSON body."
    )
