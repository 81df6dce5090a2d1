"""The protocol register for staff: search the book, open an entry (receipt, files, links both
ways), cancel it with a reason, register its ορθή επανάληψη, download the yearly book.

What each reader sees is the engine's rule (engine/protocol/visibility.py): entries of other
units come back as a number and "restricted", never a subject or a sender.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from core.clock import ATHENS, utcnow
from core.errors import InvalidInput, PolisError
from engine.documents.registration import documents_of_entries
from engine.protocol.book import (
    CorrectionForm,
    UploadedFile,
    book_for_download,
    correct_on_page,
    correction_defaults,
    corrections_of_page,
    entry_file,
    entry_page,
    filter_units,
    may_cancel,
)
from engine.protocol.entries import cancel
from engine.protocol.errors import AlreadyCancelled, NotProtocolClerk
from engine.protocol.export import csv_lines, json_chunks
from engine.protocol.receipts import RECEIPT_CONTENT_TYPE, receipt_for
from engine.protocol.search import InvalidSearch, query_from_params, search
from web.api.protocol import RECEIPT_SEALER_EXTENSION
from web.context import db, services
from web.downloads import stored_file_view, stream_object
from web.pages.staff.common import bp, delivery_words, locale, problem_message, staff_user

#: The search form's fields, in the order of the page.
SEARCH_FIELDS = ("q", "number", "year", "date_from", "date_to", "party", "direction", "unit")


def _search_words(name: str) -> str:
    """What to fix in a search field, in the reader's language."""
    words = {
        "number": _("Write the protocol number as a whole number, e.g. 512."),
        "year": _("Write the year as a whole number, e.g. 2026."),
        "date_from": _("Write the date as dd/mm/yyyy."),
        "date_to": _("Write the date as dd/mm/yyyy."),
        "direction": _("Choose ΕΙΣ, ΕΞ or ΕΣΩ."),
        "unit": _("Choose a unit from the list."),
        "cursor": _("This page link is out of date; start the search again."),
    }
    return str(words.get(name, _("Check this field.")))


@bp.get("/protocol")
def protocol_register_page() -> tuple[str, int]:
    """Search the register: number, year, dates, party, subject words, direction, unit."""
    user = staff_user()
    args = {name: request.args.get(name, "").strip() for name in SEARCH_FIELDS}
    errors: dict[str, str] = {}
    page = None
    try:
        query = query_from_params({**args, "cursor": request.args.get("cursor", ""), "limit": "25"})
        page = search(db(), query, user)
    except InvalidSearch as error:
        db().rollback()
        fields = error.details.get("fields")
        errors = {name: _search_words(name) for name in dict(fields or {})}
    entries = page.entries if page else []
    ids = [entry.id for entry in entries]
    number = request.args.get("page", "1")
    return render_template(
        "staff/protocol_register.html",
        args=args,
        query_args={name: value for name, value in args.items() if value},
        errors=errors,
        entries=entries,
        visible=page.visible if page else frozenset(),
        corrected=corrections_of_page(db(), ids, user),
        documents=documents_of_entries(db(), [i for i in ids if page and i in page.visible]),
        next_cursor=page.next_cursor if page else None,
        page_number=int(number) if number.isdigit() and int(number) < 100_000 else 1,
        searched=any(args.values()),
        unit_options=[
            (str(unit.id), unit.name_en if _locale_en() else unit.name_el) for unit in filter_units(db())
        ],
        keeps_book=may_cancel(user),
        this_year=utcnow().astimezone(ATHENS).year,
        section="protocol",
    ), 422 if errors else 200


def _locale_en() -> bool:
    return locale() == "en"


def _render_entry(
    entry_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    user = staff_user()
    page = entry_page(db(), entry_id, user)
    document = documents_of_entries(db(), [entry_id]).get(entry_id) if page.visible else None
    return render_template(
        "staff/protocol_entry.html",
        page=page,
        entry=page.entry,
        document_id=document,
        delivery_words=delivery_words(),
        errors=errors or {},
        values=values or {},
        problem=problem,
        section="protocol",
    ), status


@bp.get("/protocol/<uuid:entry_id>")
def protocol_entry_page(entry_id: uuid.UUID) -> tuple[str, int]:
    """One entry: in full with its receipt, files and links, or its number and "restricted"."""
    return _render_entry(entry_id)


@bp.get("/protocol/<uuid:entry_id>/files/<int:position>")
def protocol_entry_file(entry_id: uuid.UUID, position: int) -> Response:
    """A file of the entry (inline, or downloaded with ?download=1), streamed from storage."""
    found = entry_file(db(), entry_id, position, staff_user())
    return stored_file_view(
        services().store,
        found.storage_key,
        content_type=found.content_type,
        filename=found.filename,
        sha256=found.sha256,
        size=found.size,
    )


@bp.get("/protocol/<uuid:entry_id>/receipt")
def protocol_entry_receipt(entry_id: uuid.UUID) -> Response:
    """The registration receipt (PDF), made on first request."""
    polis = services()
    key, filename = receipt_for(
        db(),
        polis.store,
        entry_id,
        staff_user(),
        issuer=polis.settings.municipality_name,
        sealer=current_app.extensions.get(RECEIPT_SEALER_EXTENSION),
    )
    return stream_object(
        polis.store, key, content_type=RECEIPT_CONTENT_TYPE, filename=filename, disposition="inline"
    )


@bp.post("/protocol/<uuid:entry_id>/cancel")
def protocol_entry_cancel(entry_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    """Cancel the entry with a reason (it keeps its number); the protocol office only."""
    reason = request.form.get("reason", "")
    try:
        entry = cancel(db(), entry_id, reason=reason, cancelled_by=staff_user())
    except InvalidInput:
        db().rollback()
        words = _("Say why the entry is cancelled (a reason is required).")
        return _render_entry(
            entry_id,
            errors={"reason": words},
            values={"reason": reason},
            problem=_("Nothing was changed: %(what)s", what=words),
            status=422,
        )
    except PolisError as error:
        db().rollback()
        return _render_entry(entry_id, values={"reason": reason}, problem=_refusal(error), status=409)
    flash(_("Entry %(number)s was cancelled; it keeps its number.", number=entry.display_number), "good")
    return redirect(url_for("staff.protocol_entry_page", entry_id=entry_id))


def _refusal(error: PolisError) -> str:
    if isinstance(error, NotProtocolClerk):
        return str(_("Only the protocol office can cancel an entry; ask them."))
    if isinstance(error, AlreadyCancelled):
        return str(_("This entry was already cancelled; nothing to do."))
    return problem_message(error)


def _render_correction(
    entry_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    page = entry_page(db(), entry_id, staff_user())
    if not page.visible:
        abort(404)
    return render_template(
        "staff/protocol_correct.html",
        page=page,
        entry=page.entry,
        values=values if values is not None else correction_defaults(page.entry),
        errors=errors or {},
        problem=problem,
        section="protocol",
    ), status


@bp.get("/protocol/<uuid:entry_id>/correct")
def protocol_correction_page(entry_id: uuid.UUID) -> tuple[str, int]:
    """The ορθή επανάληψη form, starting as the original entry."""
    return _render_correction(entry_id)


def _sender_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        words = _("Write the date as dd/mm/yyyy.")
        raise InvalidInput(words, fields={"sender_date": words}) from None


@bp.post("/protocol/<uuid:entry_id>/correct")
def protocol_correction(entry_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    """Register the ορθή επανάληψη: a new number, linked both ways to the original."""
    form = request.form
    values = {k: v for k, v in form.items() if k != "_csrf"}
    values.setdefault("keep_files", "")
    try:
        typed = CorrectionForm(
            subject=form.get("subject", ""),
            sender=form.get("sender") or None,
            sender_reference=form.get("sender_reference") or None,
            sender_date=_sender_date(form.get("sender_date", "")),
            recipients=tuple(form.get("recipients", "").split(";")),
            document_type=form.get("document_type") or None,
            classification=form.get("classification") or None,
            delivery_method=form.get("delivery_method") or None,
            keep_files=form.get("keep_files") == "true",
            files=tuple(
                UploadedFile(f.filename or "document", f.read(), f.mimetype or "application/octet-stream")
                for f in request.files.getlist("files")
                if f.filename
            ),
        )
        new = correct_on_page(db(), services().store, entry_id, typed, registered_by=staff_user())
    except InvalidInput as error:
        db().rollback()
        fields = error.details.get("fields") if isinstance(error.details, dict) else None
        errors = {name: _correction_words(name, str(text)) for name, text in dict(fields or {}).items()}
        return _render_correction(
            entry_id,
            values=values,
            errors=errors,
            problem=_("Nothing was registered: %(what)s", what="; ".join(errors.values()) or error.message),
            status=422,
        )
    except PolisError as error:
        db().rollback()
        return _render_correction(entry_id, values=values, problem=problem_message(error), status=409)
    flash(_("Registered as %(number)s.", number=new.display_number), "good")
    return redirect(url_for("staff.protocol_entry_page", entry_id=new.id))


def _correction_words(name: str, engine_text: str) -> str:
    words = {
        "subject": _("Write the subject of the document."),
        "sender": _("Write who sent the document."),
        "sender_date": _("Give the date of the sender's reference number, as dd/mm/yyyy."),
        "classification": _("Choose ΠΧ, ΕΜΠ or ΠΔ, or none."),
        "delivery_method": _("Choose how the document arrived."),
        "files": _("A file is too large or is a program; attach documents only."),
    }
    return str(words.get(name, engine_text))


@bp.get("/protocol/book")
def protocol_book_download() -> Response:
    """The yearly register book as CSV or JSON, streamed; the protocol office only."""
    raw_year = request.args.get("year", "")
    year = int(raw_year) if raw_year.isdigit() and len(raw_year) <= 4 else 0
    fmt = "json" if request.args.get("format") == "json" else "csv"
    rows = book_for_download(db(), staff_user(), year, request.args.get("registry") or None)
    chunks: Any = json_chunks(rows) if fmt == "json" else csv_lines(rows)
    # A byte-order mark first: spreadsheet programs then read the Greek of a CSV as UTF-8.
    bom = [] if fmt == "json" else ["\ufeff"]
    body = (chunk.encode("utf-8") for part in (bom, chunks) for chunk in part)
    # The rows come from the database as the body is sent: the request (and its session)
    # stays open until the last one.
    response = Response(
        stream_with_context(body), mimetype="application/json" if fmt == "json" else "text/csv"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="protocol-{year}.{fmt}"'
    return response
