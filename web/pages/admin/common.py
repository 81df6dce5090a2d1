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
from web.pages.org_messages import org_problem

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
    return org_problem(error)
