"""The pages behind the emailed links: confirm the address, confirm a request, set a new password."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.people.accounts import PasswordTooShort
from engine.people.applicants.accounts import verify_email
from engine.people.applicants.signup import reset_password
from engine.requests.pending import confirm_submission
from web.context import db, services

bp = Blueprint("citizen_pages", __name__, url_prefix="/citizen")


@bp.get("/verify")
def verify_form() -> str:
    """Show a button that confirms the email (opening the link alone changes nothing)."""
    return render_template("citizen/verify.html", token=request.args.get("token", ""), confirmed=None)


@bp.post("/verify")
def verify() -> str:
    """Confirm the email with the token of the link (the CSRF check comes from web/csrf.py)."""
    applicant = verify_email(db(), request.form.get("token", ""), secret=services().settings.secret())
    return render_template("citizen/verify.html", token="", confirmed=applicant.email)


@bp.get("/confirm-request")
def confirm_request_form() -> str:
    """Show a button that submits a held request (opening the link alone changes nothing)."""
    return render_template("citizen/confirm_request.html", token=request.args.get("token", ""), result=None)


@bp.post("/confirm-request")
def confirm_request() -> Response:
    """Register the held request of the emailed link, then show its receipt (the same as a
    signed-in citizen's: numbers, tracking code, PDF receipt)."""
    polis = services()
    result = confirm_submission(db(), polis.store, polis.settings, request.form.get("token", ""))
    return redirect(url_for("apply.receipt", code=result.tracking_code), code=303)


@bp.get("/reset")
def reset_form() -> str:
    """Ask for the new password (twice); the token of the link rides along in the form."""
    return render_template("citizen/reset.html", token=request.args.get("token", ""), done=False, error=None)


@bp.post("/reset")
def reset() -> tuple[str, int] | str:
    """Set the new password; a mismatch or a short password shows the form again."""
    token = request.form.get("token", "")
    password = request.form.get("password", "")
    if password != request.form.get("password_again", ""):
        error = _("The two passwords differ; type the same new password twice.")
        return render_template("citizen/reset.html", token=token, done=False, error=error), 422
    try:
        reset_password(db(), services().settings, token, password)
    except PasswordTooShort:
        error = _("A password needs at least 8 characters.")
        return render_template("citizen/reset.html", token=token, done=False, error=error), 422
    return render_template("citizen/reset.html", token="", done=True, error=None)
