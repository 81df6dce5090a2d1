"""The protocol office's registration page: an incoming document with its files, registered ΕΙΣ
and assigned (χρέωση) to units for action and for information in one step."""

from __future__ import annotations

import secrets
import uuid
from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import InvalidInput, PolisError
from engine.documents.folders import registration_choices, related_by_numbers
from engine.documents.mail import confirm_draft, get_draft, mailbox, prefilled
from engine.documents.models import MailDraft
from engine.documents.registration import IncomingFile, IncomingForm, register_incoming
from web.context import db, services
from web.pages.staff.common import bp, problem_message, staff_user

LABELS = {
    "subject": "Subject",
    "document_type": "Type of document",
    "sender": "Sender",
    "sender_reference": "Sender's reference number",
    "sender_date": "Date of the sender's reference",
    "files": "Files",
    "units": "Units",
    "related": "Related entries",
}


def _render(
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
    draft: MailDraft | None = None,
) -> tuple[str, int]:
    if request.method == "POST":
        values = {k: v for k, v in request.form.items() if k != "_csrf"}
    else:
        values = prefilled(draft) if draft is not None else {}
    choices = registration_choices(db())
    return render_template(
        "staff/document_new.html",
        choices=choices,
        type_options=[(kind.code, kind.el) for kind in choices["document_types"]],
        values=values,
        action_units=request.form.getlist("for_action"),
        information_units=request.form.getlist("for_information"),
        errors=errors or {},
        labels={k: _(v) for k, v in LABELS.items()},
        problem=problem,
        key=request.form.get("idempotency_key") or secrets.token_urlsafe(16),
        draft=draft,
        section="documents",
    ), status


@bp.get("/documents/new")
def new_document_page() -> tuple[str, int]:
    """The registration form."""
    return _render()


def _ids(name: str) -> tuple[uuid.UUID, ...]:
    found = []
    for raw in request.form.getlist(name):
        try:
            found.append(uuid.UUID(raw))
        except ValueError:
            continue
    return tuple(found)


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        raise InvalidInput(
            _("Write the date as dd/mm/yyyy."), fields={"sender_date": _("Write the date as dd/mm/yyyy.")}
        ) from None


def _incoming_form(files: tuple[IncomingFile, ...]) -> IncomingForm:
    """The registration form as typed (the engine checks it)."""
    form = request.form
    related, missing = related_by_numbers(db(), form.get("related", ""))
    if missing:
        raise InvalidInput(
            _("No protocol entry %(numbers)s; write numbers as 123/2026.", numbers=", ".join(missing)),
            fields={"related": _("not found: %(numbers)s", numbers=", ".join(missing))},
        )
    return IncomingForm(
        subject=form.get("subject", ""),
        document_type=form.get("document_type", ""),
        sender=form.get("sender", ""),
        sender_reference=form.get("sender_reference") or None,
        sender_date=_date(form.get("sender_date", "")),
        classification=form.get("classification") or None,
        delivery_method=form.get("delivery_method") or None,
        attachments_description=form.get("attachments_description") or None,
        related=tuple(related),
        for_action=_ids("for_action"),
        for_information=_ids("for_information"),
        note=form.get("note") or None,
        files=files,
    )


@bp.post("/documents/new")
def register_document() -> Response | tuple[str, int]:
    """Register the document and assign it; then open its page."""
    user = staff_user()
    try:
        files = tuple(
            IncomingFile(f.filename or "document", f.read(), f.mimetype or "application/octet-stream")
            for f in request.files.getlist("files")
            if f.filename
        )
        document = register_incoming(
            db(),
            services().store,
            _incoming_form(files),
            registered_by=user,
            idempotency_key=request.form.get("idempotency_key"),
        )
    except InvalidInput as error:
        db().rollback()
        fields = error.details.get("fields")
        return _render(
            errors=dict(fields) if isinstance(fields, dict) else {}, problem=error.message, status=422
        )
    except PolisError as error:
        db().rollback()
        return _render(problem=problem_message(error), status=403)
    flash(_("Registered as %(number)s.", number=document.entry.display_number), "good")
    return redirect(url_for("staff.document_page", document_id=document.id))


@bp.get("/documents/mail")
def mailbox_page() -> str:
    """The municipal mailbox: messages to confirm as registrations, and those held, with why."""
    return render_template("staff/mailbox.html", boxes=mailbox(db(), staff_user()), section="documents")


@bp.get("/documents/mail/<uuid:draft_id>")
def mail_draft_page(draft_id: uuid.UUID) -> tuple[str, int]:
    """The registration form, prefilled from the message."""
    return _render(draft=get_draft(db(), draft_id, staff_user()))


@bp.post("/documents/mail/<uuid:draft_id>")
def confirm_mail_draft(draft_id: uuid.UUID) -> Response | tuple[str, int]:
    """Register the message ΕΙΣ with what the protocol office completed (once, however often sent)."""
    user = staff_user()
    draft = get_draft(db(), draft_id, user)
    try:
        document = confirm_draft(db(), services().store, draft_id, _incoming_form(()), confirmed_by=user)
    except InvalidInput as error:
        db().rollback()
        fields = error.details.get("fields")
        return _render(
            errors=dict(fields) if isinstance(fields, dict) else {},
            problem=error.message,
            status=422,
            draft=get_draft(db(), draft_id, user),
        )
    except PolisError as error:
        db().rollback()
        return _render(problem=problem_message(error), status=409, draft=draft)
    flash(_("Registered as %(number)s.", number=document.entry.display_number), "good")
    return redirect(url_for("staff.document_page", document_id=document.id))
