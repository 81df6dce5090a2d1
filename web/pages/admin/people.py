"""Administration pages under /admin: the org tree, people and positions, substitutions and
issued documents (search, revoke with a reason). Administrators only: anyone else gets 403.

Views parse the form, call one engine service and render or redirect; a refused change
re-renders the page with the engine's message (what failed and what to do).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import InvalidInput, PolisError
from engine.issuing.revocation import find_issued_documents, revoke_issued_document
from engine.people.admin_audit import AdminActor, admin_history
from engine.people.administration import (
    add_position_by_names,
    deactivate_username,
    enrol_staff,
    send_reset_link_to,
    substitute_by_names,
    unit_choices,
)
from engine.people.models import POSITION_KINDS
from engine.people.orgchart import list_staff, org_tree
from engine.people.substitutions import substitution_overview
from engine.people.visibility import NotAdministrator, is_admin
from web.auth.staff import current_user
from web.context import db, services

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _administrators_only() -> Response | None:
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.full_path))
    if not is_admin(user):
        raise NotAdministrator(_("Only administrators may open the administration pages."))
    return None


def _actor() -> AdminActor:
    user: Any = current_user()
    return AdminActor(user.id, user.full_name)


def _text(name: str) -> str:
    return request.form.get(name, "").strip()


def _date(name: str) -> date:
    try:
        return date.fromisoformat(_text(name))
    except ValueError:
        raise InvalidInput(_("Choose both dates.")) from None


def _kind_choices() -> list[tuple[str, str]]:
    labels = {
        "head": _("Head of unit"),
        "clerk": _("Clerk"),
        "protocol_officer": _("Protocol officer"),
        "signatory": _("Signatory"),
        "admin": _("Administrator"),
    }
    return [(kind, labels[kind]) for kind in POSITION_KINDS]


@bp.get("")
def org() -> str:
    """The org chart as a tree, and the newest admin events."""
    return render_template(
        "admin/org.html", tree=org_tree(db()), events=admin_history(db(), 20), section="org"
    )


def _people_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    page = render_template(
        "admin/people.html",
        people=(staff := list_staff(db())),
        people_choices=[(u.username, f"{u.full_name} ({u.username})") for u, _held in staff if u.is_active],
        units=unit_choices(db()),
        kinds=_kind_choices(),
        error=error,
        form=request.form,
        section="people",
    )
    return page, status


@bp.get("/people")
def people() -> tuple[str, int]:
    """People with their positions; create, deactivate, add and end positions."""
    return _people_page()


@bp.post("/people")
def create_person() -> Response | tuple[str, int]:
    """Create an account with its first position."""
    try:
        user = enrol_staff(
            db(),
            username=_text("username"),
            full_name=_text("full_name"),
            email=_text("email") or None,
            unit_code=_text("unit") or None,
            kind=_text("kind") or None,
            by=_actor(),
        )
    except PolisError as exc:
        return _people_page(exc.message, 422)
    flash(_("Account %(username)s created.", username=user.username))
    return redirect(url_for("admin.people"))


@bp.post("/people/<username>/deactivate")
def deactivate_person(username: str) -> Response | tuple[str, int]:
    """Deactivate an account (never deleted)."""
    try:
        deactivate_username(db(), username, _actor())
    except PolisError as exc:
        return _people_page(exc.message, 409)
    flash(_("Account %(username)s deactivated.", username=username))
    return redirect(url_for("admin.people"))


@bp.post("/people/<username>/reset-link")
def send_reset_link(username: str) -> Response | tuple[str, int]:
    """Email the person a one-hour link to set their password."""
    try:
        address = send_reset_link_to(db(), services().settings, username, _actor())
    except PolisError as exc:
        return _people_page(exc.message, 422)
    flash(_("A password link was emailed to %(address)s.", address=address))
    return redirect(url_for("admin.people"))


@bp.post("/positions")
def add_position() -> Response | tuple[str, int]:
    """Give a person another position."""
    try:
        add_position_by_names(
            db(),
            _text("person"),
            _text("position_unit"),
            _text("position_kind"),
            _actor(),
            _text("title") or None,
        )
    except PolisError as exc:
        return _people_page(exc.message, 422)
    flash(_("Position added."))
    return redirect(url_for("admin.people"))


def _substitutions_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    page = render_template(
        "admin/substitutions.html",
        rows=substitution_overview(db()),
        units=unit_choices(db()),
        error=error,
        form=request.form,
        section="substitutions",
    )
    return page, status


@bp.get("/substitutions")
def substitutions() -> tuple[str, int]:
    """Substitutions, and the form to name one."""
    return _substitutions_page()


@bp.post("/substitutions")
def add_substitution() -> Response | tuple[str, int]:
    """Name a head's substitute for a date range."""
    try:
        substitute_by_names(
            db(),
            unit_code=_text("unit"),
            head=_text("head"),
            substitute=_text("substitute"),
            starts_on=_date("starts_on"),
            ends_on=_date("ends_on"),
            reason=_text("reason") or None,
            by=_actor(),
        )
    except PolisError as exc:
        return _substitutions_page(exc.message, 422)
    flash(_("Substitution recorded."))
    return redirect(url_for("admin.substitutions"))


def _documents_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    query = request.args.get("q", "")
    page = render_template(
        "admin/documents.html",
        documents=find_issued_documents(db(), query),
        q=query,
        error=error,
        section="documents",
    )
    return page, status


@bp.get("/documents")
def documents() -> tuple[str, int]:
    """Issued documents, searched by code, protocol number or title."""
    return _documents_page()


@bp.post("/documents/<code>/revoke")
def revoke(code: str) -> Response | tuple[str, int]:
    """Revoke an issued document with a reason (shown on its public verification page)."""
    try:
        revoke_issued_document(db(), code, reason=_text("reason"), by=_actor())
    except PolisError as exc:
        return _documents_page(exc.message, 422)
    flash(_("Document %(code)s revoked.", code=code))
    return redirect(url_for("admin.documents", q=code))
