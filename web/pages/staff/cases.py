"""The case page (diagram, history, documents, protocol, notifications, incidents), files and
previews a member of staff may open, and the process pages with counts per element."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from core.errors import PolisError
from engine.administration.runtime import retry_open_incident
from engine.casework.desk import case_detail
from engine.casework.workspace import (
    case_diagram,
    case_file_for,
    certificate_preview_pdf,
    pdf_first_page_png,
    process_drawing,
    process_overview,
    request_facts,
    service_of,
)
from web.context import db, services
from web.downloads import stored_file_view
from web.pages.staff.common import bp, locale, problem_message, staff_user


@bp.get("/cases/<uuid:case_id>")
def case_page(case_id: uuid.UUID) -> str:
    """Everything about one case, for staff who may see it."""
    user = staff_user()
    detail = case_detail(db(), case_id, user)
    service = service_of(detail.case)
    return render_template(
        "staff/case.html",
        detail=detail,
        case=detail.case,
        service=service,
        facts=request_facts(service, (detail.case.data or {}).get("form") or {}, locale()),
        is_admin="admin" in user.roles,
        section="inbox",
    )


@bp.get("/cases/<uuid:case_id>/diagram.json")
def case_diagram_json(case_id: uuid.UUID) -> Response:
    """The case's BPMN XML with its completed and current elements (for the bpmn-js viewer)."""
    state = case_diagram(db(), case_id, staff_user())
    return jsonify({"xml": state.xml, "completed": state.completed, "current": state.current})


def file_response(data: bytes, content_type: str, filename: str, download: bool) -> Response:
    """A file made for this request (a preview) for the browser: inline or as a download,
    never cached, framed only by us. Stored files go through :func:`web.downloads.stored_file_view`."""
    response = Response(data, mimetype=content_type)
    disposition = "attachment" if download else "inline"
    response.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "private, no-store"
    # Our own pages may show it in a frame (PDF preview); nobody else's.
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/cases/<uuid:case_id>/files/<uuid:file_id>")
def case_file(case_id: uuid.UUID, file_id: uuid.UUID) -> Response:
    """A case file, shown in the browser (or downloaded with ?download=1)."""
    found = case_file_for(db(), case_id, file_id, staff_user())
    return stored_file_view(
        services().store,
        found.object_key,
        content_type=found.content_type,
        filename=found.filename,
        sha256=found.sha256,
        size=found.size,
    )


@bp.get("/cases/<uuid:case_id>/files/<uuid:file_id>/preview.png")
def case_file_preview(case_id: uuid.UUID, file_id: uuid.UUID) -> Response:
    """The first page of a PDF case file as an image."""
    found = case_file_for(db(), case_id, file_id, staff_user())
    with services().store.open(found.object_key) as reader:
        data = reader.read()
    return file_response(pdf_first_page_png(data), "image/png", found.filename + ".png", False)


def _certificate(case_id: uuid.UUID) -> bytes:
    settings = services().settings
    return certificate_preview_pdf(
        db(),
        case_id,
        staff_user(),
        municipality_name=settings.municipality_name,
        base_url=settings.public_base_url,
    )


@bp.get("/cases/<uuid:case_id>/certificate-preview.pdf")
def certificate_preview(case_id: uuid.UUID) -> Response:
    """The certificate as it will be issued, from the case's data now (not sealed, no number)."""
    return file_response(
        _certificate(case_id),
        "application/pdf",
        "certificate-preview.pdf",
        request.args.get("download") == "1",
    )


@bp.get("/cases/<uuid:case_id>/certificate-preview.png")
def certificate_preview_png(case_id: uuid.UUID) -> Response:
    """The certificate preview's first page as an image (phones show PDFs poorly in a page)."""
    return file_response(
        pdf_first_page_png(_certificate(case_id), resolution=110),
        "image/png",
        "certificate-preview.png",
        False,
    )


@bp.post("/incidents/<int:incident_id>/retry")
def retry_incident(incident_id: int) -> BaseResponse:
    """An administrator retries a failed service task."""
    case_id = request.form.get("case_id", "")
    try:
        retry_open_incident(db(), staff_user(), incident_id)  # in the admin log too
    except PolisError as error:
        db().rollback()
        flash(problem_message(error), "bad")
    else:
        flash(_("The step will be tried again now."), "good")
    target = url_for("staff.case_page", case_id=case_id) if _is_uuid(case_id) else url_for("staff.inbox_page")
    return redirect(target)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@bp.get("/processes")
def processes_page() -> str:
    """Every deployed process: versions, open cases, tasks waiting per element."""
    return render_template("staff/processes.html", processes=process_overview(db()), section="processes")


@bp.get("/processes/<process_id>")
def process_page(process_id: str) -> str:
    """One process's drawing with the number of tasks waiting at each element."""
    summary, _xml = process_drawing(db(), process_id)
    return render_template("staff/process.html", process=summary, section="processes")


@bp.get("/processes/<process_id>/diagram.json")
def process_diagram_json(process_id: str) -> Response:
    """The newest drawing of a process and its per-element counts (for the bpmn-js viewer)."""
    summary, xml = process_drawing(db(), process_id)
    return jsonify({"xml": xml, "counts": summary.waiting})
