"""People and positions, substitutions and issued documents (search, revoke with a reason)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import PolisError
from engine.issuing.revocation import find_issued_documents, revoke_issued_document
from engine.people.administration import (
    add_position_by_names,
    deactivate_username,
    enrol_staff,
    send_reset_link_to,
    substitute_by_names,
    unit_choices,
)
from engine.people.models import POSITION_KINDS
from engine.people.orgchart import list_staff
from engine.people.substitutions import substitution_overview
from web.context import db, services
from web.pages.admin.common import admin_actor, bp, form_date, form_text, problem_text


def kind_choices() -> list[tuple[str, str]]:
    """The position kinds with their labels in the reader's language."""
    labels = {
        "head": _("Head of unit"),
        "clerk": _("Clerk"),
        "protocol_officer": _("Protocol officer"),
        "signatory": _("Signatory"),
        "admin": _("Administrator"),
    }
    return [(kind, labels[kind]) for kind in POSITION_KINDS]


def _people_page(
    error: str | None = None, status: int = 200, prefill: dict[str, str] | None = None
) -> tuple[str, int]:
    page = render_template(
        "admin/people.html",
        people=(staff := list_staff(db())),
        people_choices=[(u.username, f"{u.full_name} ({u.username})") for u, _held in staff if u.is_active],
        units=unit_choices(db()),
        kinds=kind_choices(),
        error=error,
        form=prefill if prefill is not None else request.form,
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
            username=form_text("username"),
            full_name=form_text("full_name"),
            email=form_text("email") or None,
            unit_code=form_text("unit") or None,
            kind=form_text("kind") or None,
            by=admin_actor(),
        )
    except PolisError as exc:
        return _people_page(problem_text(exc), 422)
    flash(_("Account %(username)s created.", username=user.username))
    return redirect(url_for("admin.people"))


@bp.post("/people/<username>/deactivate")
def deactivate_person(username: str) -> Response | tuple[str, int]:
    """Deactivate an account (never deleted)."""
    try:
        deactivate_username(db(), username, admin_actor())
    except PolisError as exc:
        # The only head with approvals waiting: the form below is filled in for a new head.
        replacement = {"position_unit": exc.details.get("unit", ""), "position_kind": "head"}
        return _people_page(problem_text(exc), 409, replacement)
    flash(_("Account %(username)s deactivated.", username=username))
    return redirect(url_for("admin.people"))


@bp.post("/people/<username>/reset-link")
def send_reset_link(username: str) -> Response | tuple[str, int]:
    """Email the person a one-hour link to set their password."""
    try:
        address = send_reset_link_to(db(), services().settings, username, admin_actor())
    except PolisError as exc:
        return _people_page(problem_text(exc), 422)
    flash(_("A password link was emailed to %(address)s.", address=address))
    return redirect(url_for("admin.people"))


@bp.post("/positions")
def add_position() -> Response | tuple[str, int]:
    """Give a person another position."""
    try:
        add_position_by_names(
            db(),
            form_text("person"),
            form_text("position_unit"),
            form_text("position_kind"),
            admin_actor(),
            form_text("title") or None,
        )
    except PolisError as exc:
        return _people_page(problem_text(exc), 422)
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
            unit_code=form_text("unit"),
            head=form_text("head"),
            substitute=form_text("substitute"),
            starts_on=form_date("starts_on"),
            ends_on=form_date("ends_on"),
            reason=form_text("reason") or None,
            by=admin_actor(),
        )
    except PolisError as exc:
        return _substitutions_page(problem_text(exc), 422)
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
        revoke_issued_document(db(), code, reason=form_text("reason"), by=admin_actor())
    except PolisError as exc:
        return _documents_page(problem_text(exc), 422)
    flash(_("Document %(code)s revoked.", code=code))
    return redirect(url_for("admin.documents", q=code))
