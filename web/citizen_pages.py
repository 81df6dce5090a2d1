"""The page behind the link in the confirmation email (the portal proper comes later)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from engine.applicants.service import verify_email
from web.services import db, services

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
