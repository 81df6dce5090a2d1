"""The org tree: units added, renamed and moved in the page; the org chart file previewed, then
applied only if it is the file that was previewed (its SHA-256 in the session, its bytes kept
by the engine)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import PolisError
from engine.administration.org_file import OrgFilePreview, apply_org_file, preview_org_file
from engine.administration.units import add_unit, move_unit, rename_unit, unit_with_parent
from engine.people.admin_audit import admin_history
from engine.people.administration import unit_choices
from engine.people.models import UNIT_KINDS
from engine.people.orgchart import org_tree
from web.context import db
from web.errors import status_for
from web.pages.admin.common import admin_user, bp, form_text, problem_text

#: The session key holding the SHA-256 of the org chart file last previewed.
PREVIEWED = "admin_org_file_sha256"


def kind_labels() -> dict[str, str]:
    """Unit kinds in the reader's language."""
    return {
        "municipality": _("Municipality"),
        "general_directorate": _("General directorate"),
        "directorate": _("Directorate"),
        "department": _("Department"),
        "office": _("Office"),
    }


def _org_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    labels = kind_labels()
    page = render_template(
        "admin/org.html",
        tree=org_tree(db()),
        events=admin_history(db(), 20),
        units=unit_choices(db()),
        unit_kinds=[(kind, labels[kind]) for kind in UNIT_KINDS],
        form=request.form,
        error=error,
        section="org",
    )
    return page, status


@bp.get("")
def org() -> tuple[str, int]:
    """The org chart as a tree, the form to add a unit, and the newest admin events."""
    return _org_page()


@bp.post("/units")
def create_unit() -> Response | tuple[str, int]:
    """Add a unit under a parent (or at the top)."""
    try:
        unit = add_unit(
            db(),
            admin_user(),
            code=form_text("code"),
            name_el=form_text("name_el"),
            name_en=form_text("name_en"),
            kind=form_text("kind"),
            parent_code=form_text("parent") or None,
            email=form_text("email") or None,
        )
    except PolisError as exc:
        return _org_page(problem_text(exc), 422)
    flash(_("Unit %(code)s added.", code=unit.code))
    return redirect(url_for("admin.org"))


def _unit_page(code: str, error: str | None = None, status: int = 200) -> tuple[str, int]:
    unit, parent = unit_with_parent(db(), admin_user(), code)
    page = render_template(
        "admin/unit.html",
        unit=unit,
        parent=parent,
        kind_label=kind_labels()[unit.kind],
        parents=[(c, label) for c, label in unit_choices(db()) if c != unit.code],
        form=request.form,
        error=error,
        section="org",
    )
    return page, status


@bp.get("/units/<code>")
def unit_page(code: str) -> tuple[str, int]:
    """One unit: rename it, move it under another parent."""
    return _unit_page(code)


@bp.post("/units/<code>/rename")
def rename(code: str) -> Response | tuple[str, int]:
    """New Greek and English names for a unit."""
    try:
        rename_unit(db(), admin_user(), code, name_el=form_text("name_el"), name_en=form_text("name_en"))
    except PolisError as exc:
        return _unit_page(code, problem_text(exc), 422)
    flash(_("Unit %(code)s renamed.", code=code))
    return redirect(url_for("admin.unit_page", code=code))


@bp.post("/units/<code>/move")
def move(code: str) -> Response | tuple[str, int]:
    """Put a unit under another parent; a cycle is refused with the path."""
    try:
        moved = move_unit(db(), admin_user(), code, form_text("parent") or None)
    except PolisError as exc:
        return _unit_page(code, problem_text(exc), 422)
    if moved.parent_id is None:
        flash(_("Unit %(code)s is now at the top of the tree.", code=code))
    else:
        flash(_("Unit %(code)s moved.", code=code))
    return redirect(url_for("admin.unit_page", code=code))


def _import_page(
    preview: OrgFilePreview | None = None, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    page = render_template("admin/org_import.html", preview=preview, error=error, section="org")
    return page, status


@bp.get("/org/import")
def org_import() -> tuple[str, int]:
    """The form to preview an org chart file."""
    return _import_page()


@bp.post("/org/import")
def org_import_preview() -> tuple[str, int]:
    """What importing the uploaded file would change, or every problem by line number."""
    upload = request.files.get("file")
    data = upload.read() if upload is not None else b""
    try:
        preview = preview_org_file(db(), admin_user(), data)
    except PolisError as exc:
        return _import_page(error=problem_text(exc), status=422)
    if preview.applicable:
        session[PREVIEWED] = preview.sha256
    else:
        session.pop(PREVIEWED, None)
    return _import_page(preview, status=422 if preview.problems else 200)


@bp.post("/org/import/apply")
def org_import_apply() -> Response | tuple[str, int]:
    """Apply the previewed file (refused unless it is this administrator's last preview)."""
    previewed = session.get(PREVIEWED)
    try:
        result = apply_org_file(
            db(), admin_user(), form_text("sha256"), str(previewed) if previewed else None
        )
    except PolisError as exc:
        return _import_page(error=problem_text(exc), status=status_for(exc))
    session.pop(PREVIEWED, None)
    flash(_("Org chart imported: %(n)s change(s) applied.", n=len(result.changes)))
    return redirect(url_for("admin.org"))
