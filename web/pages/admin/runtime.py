"""Deployed processes with their versions and diagrams, timer schedules (pause/resume) and
waiting timers, incidents (retry, with the error)."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import PolisError
from engine.administration.runtime import (
    deployed_process,
    deployed_processes,
    open_incident_rows,
    pause_schedule,
    retry_open_incident,
    timer_schedules,
    version_diagram,
    waiting_timers,
)
from web.context import db
from web.pages.admin.common import admin_user, bp, problem_text


@bp.get("/processes")
def processes() -> str:
    """Every deployed process with its versions."""
    return render_template(
        "admin/processes.html", processes=deployed_processes(db(), admin_user()), section="processes"
    )


@bp.get("/processes/<process_id>")
def process(process_id: str) -> str:
    """One process: its versions, and the diagram of the chosen one (the newest by default)."""
    found = deployed_process(db(), admin_user(), process_id)
    wanted = request.args.get("version", type=int)
    shown = next((v for v in found.versions if v.version == wanted), found.newest)
    return render_template("admin/process.html", process=found, shown=shown, section="processes")


@bp.get("/processes/<process_id>/<int:version>/diagram.json")
def process_diagram(process_id: str, version: int) -> Response:
    """The BPMN XML of one version (for the bpmn-js viewer)."""
    return jsonify({"xml": version_diagram(db(), admin_user(), process_id, version)})


def _timers_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    page = render_template(
        "admin/timers.html",
        schedules=timer_schedules(db(), admin_user()),
        waiting=waiting_timers(db(), admin_user()),
        error=error,
        section="timers",
    )
    return page, status


@bp.get("/timers")
def timers() -> tuple[str, int]:
    """Timer start schedules and the timers open cases wait on."""
    return _timers_page()


@bp.post("/timers/<process_id>/pause")
def pause(process_id: str) -> Response | tuple[str, int]:
    """Pause a timer start: no case starts until it is resumed."""
    try:
        pause_schedule(db(), admin_user(), process_id, paused=True)
    except PolisError as exc:
        return _timers_page(problem_text(exc), 404 if exc.code == "not_found" else 422)
    flash(_("The schedule of %(process)s is paused.", process=process_id))
    return redirect(url_for("admin.timers"))


@bp.post("/timers/<process_id>/resume")
def resume(process_id: str) -> Response | tuple[str, int]:
    """Resume a timer start from its next occurrence after now (missed ones are not caught up)."""
    try:
        pause_schedule(db(), admin_user(), process_id, paused=False)
    except PolisError as exc:
        return _timers_page(problem_text(exc), 404 if exc.code == "not_found" else 422)
    flash(_("The schedule of %(process)s is running again.", process=process_id))
    return redirect(url_for("admin.timers"))


def _incidents_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    page = render_template(
        "admin/incidents.html",
        incidents=open_incident_rows(db(), admin_user()),
        error=error,
        section="incidents",
    )
    return page, status


@bp.get("/incidents")
def incidents() -> tuple[str, int]:
    """Open incidents with their errors."""
    return _incidents_page()


@bp.post("/incidents/<int:incident_id>/retry")
def retry(incident_id: int) -> Response | tuple[str, int]:
    """Run the failed step again now, with a fresh retry budget."""
    try:
        row = retry_open_incident(db(), admin_user(), incident_id)
    except PolisError as exc:
        return _incidents_page(problem_text(exc), 404 if exc.code == "not_found" else 409)
    flash(_("Incident %(id)s of case %(case)s is being retried.", id=incident_id, case=row.case_number))
    return redirect(url_for("admin.incidents"))
