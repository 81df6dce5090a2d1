"""The citizen's tracking page (``/track/<code>``), the address every notification links to.

It shows the same public timeline as the API, in Greek or English, the download links, and,
when the municipality asked for a document, a form to send it.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import PolisError
from engine.requests import Upload, track
from engine.requests.scanning import scanner_for
from engine.requests.submission import SubmissionInvalid
from engine.requests.supply import supply_documents
from engine.requests.tracking import tracking_code_for
from engine.workflow.errors import CaseNotFound
from web.api.requests import MISSES, public_lookup, tracking_json
from web.context import db, read_only, services
from web.ratelimit import client_address

bp = Blueprint("track_pages", __name__)


def _locale() -> str:
    return "en" if str(get_locale()) == "en" else "el"


@bp.post("/track")
@public_lookup
def find() -> Any:
    """The "track a request" box: a tracking code, or a case number with the applicant's email."""
    code = request.form.get("code", "").strip()
    number = request.form.get("case_number", "").strip()
    email = request.form.get("email", "").strip()
    if code:
        return redirect(url_for("track_pages.page", code=code), code=303)
    if number and email:
        try:
            code = tracking_code_for(db(), number, email)
        except CaseNotFound:
            MISSES.hit(client_address())  # guesses count against the same limit as unknown codes
            problem = _("No request has this case number and email. Check both, or use the tracking code.")
            return _lookup_page(problem, 404)
        return redirect(url_for("track_pages.page", code=code), code=303)
    problem = _("Write the tracking code, or the case number together with your email.")
    return _lookup_page(problem, 422)


@bp.get("/track")
def lookup() -> Any:
    """The "track a request" form on a page of its own."""
    return _lookup_page(None, 200)


def _lookup_page(problem: str | None, status: int) -> Any:
    form = request.form
    html = render_template(
        "track/lookup.html",
        problem=problem,
        values={name: form.get(name, "") for name in ("code", "case_number", "email")},
    )
    return html, status


@bp.get("/track/<code>")
@read_only
@public_lookup
def page(code: str) -> Any:
    """The request's timeline, what the citizen must do, and the documents issued."""
    return _render(code)


def _render(code: str, problems: list[str] | None = None, status: int = 200) -> Any:
    state = track(db(), code)
    view = tracking_json(state, code, _locale())
    # A fresh key per rendering of the form: a double click or a resent form carries the
    # same one, so the documents are registered once (engine.requests.supply).
    html = render_template(
        "track/case.html", case=view, code=code, problems=problems or [], idempotency_key=str(uuid.uuid4())
    )
    return (html, status) if status != 200 else html


@bp.post("/track/<code>/documents")
@public_lookup
def send_documents(code: str) -> Any:
    """The form on the page that sends the requested documents."""
    uploads = [
        Upload("document", storage.filename or "", storage.stream)  # type: ignore[arg-type]
        for storage in request.files.getlist("documents")
        if storage.filename
    ]
    try:
        supply_documents(
            db(),
            services().store,
            code,
            uploads,
            note=request.form.get("note", ""),
            idempotency_key=request.form.get("idempotency_key") or None,
            scanner=scanner_for(services().settings.clamd_address),
        )
    except SubmissionInvalid as exc:
        db().rollback()
        return _render(code, [e.message(_locale()) for e in exc.errors], 422)
    except PolisError as exc:
        if exc.code == "not_found":
            raise
        db().rollback()
        return _render(code, [exc.message], 422)
    response: Response = redirect(url_for("track_pages.page", code=code, sent=1), code=303)
    return response
