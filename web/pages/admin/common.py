"""The administration blueprint, its guard, and what every admin view shares."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, redirect, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from core.errors import InvalidInput, PolisError
from engine.administration.access import require_admin
from engine.people.admin_audit import AdminActor
from engine.people.visibility import NotAdministrator, is_admin
from web.auth.staff import current_user

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _(text: str, **values: object) -> str:
    return str(gettext(text, **values))


@bp.before_request
def _administrators_only() -> Response | None:
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.full_path))
    if not is_admin(user):
        raise NotAdministrator(_("Only administrators may open the administration pages."))
    return None


def admin_user() -> Any:
    """The signed-in administrator, acting in their position (the engine checks them again)."""
    return current_user()


def admin_actor() -> AdminActor:
    """The signed-in administrator as the admin log names them (the engine's check decides)."""
    return require_admin(current_user())


def form_text(name: str) -> str:
    """A form field, trimmed ('' when missing)."""
    return request.form.get(name, "").strip()


def form_date(name: str) -> date:
    """A form field holding an ISO date, or InvalidInput asking for both dates."""
    try:
        return date.fromisoformat(form_text(name))
    except ValueError:
        raise InvalidInput(_("Choose both dates.")) from None


def problem_text(error: PolisError) -> str:
    """The engine's refusal in the reader's language where the page knows it, else as written."""
    details = error.details
    if error.code == "unit_cycle":
        return _(
            "Unit %(unit)s cannot move under %(parent)s: %(parent)s is inside %(unit)s (%(route)s). "
            "Choose a unit outside it.",
            unit=details.get("unit"),
            parent=details.get("parent"),
            route=details.get("route"),
        )
    if error.code == "unit_code_taken":
        return _(
            "A unit with the code %(code)s exists already; choose another code.", code=details.get("unit")
        )
    if error.code == "substitution_overlaps":
        return _(
            "%(head)s already has a substitute from %(start)s to %(end)s; choose dates outside that range "
            "or cancel it first.",
            head=details.get("head"),
            start=details.get("starts_on"),
            end=details.get("ends_on"),
        )
    if error.code == "open_approvals_need_a_head":
        return _(
            "%(username)s is the only head of %(unit)s and %(n)s approval task(s) wait there (%(cases)s). "
            "Give the unit another head first (Add a position below, position: Head of unit), then "
            "deactivate again.",
            username=details.get("username"),
            unit=details.get("unit"),
            n=details.get("waiting"),
            cases=details.get("cases"),
        )
    if error.code == "org_file_not_previewed":
        return _(
            "This is not the file you previewed last (or the preview is over a day old); preview it again, "
            "then apply."
        )
    return error.message
