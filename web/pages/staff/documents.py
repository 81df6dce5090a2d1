"""Incoming documents in the staff workspace: the folders, the document page, and what the unit
does with a document (route to a clerk, file with a reason, start a reply, re-assign, comment)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import InvalidInput, PolisError
from engine.casework.workspace import pdf_first_page_png
from engine.documents.catalogue import file_plan
from engine.documents.folders import (
    FOLDERS,
    comment_on_document,
    document_file,
    folder,
    folder_counts,
    open_document,
)
from engine.documents.handling import file_document, reassign, return_to_head, route_to_clerk
from engine.outgoing.followups import start_reply_draft
from web.context import db, services
from web.downloads import stored_file_view
from web.pages.staff.cases import file_response
from web.pages.staff.common import bp, delivery_words, problem_message, staff_user


def _event_title(action: str, details: dict[str, Any]) -> str:
    titles = {
        "registered": _("Registered"),
        "assigned": _("Assigned"),
        "read": _("Opened"),
        "routed": _("Given to %(name)s", name=details.get("to", "")),
        "filed": _("Filed by the unit"),
        "reply_started": _("Reply started by the unit"),
        "reassigned": _("Sent to another unit"),
        "returned": _("Given back to the head"),
        "escalated": _("Deadline passed: escalated to the head"),
        "comment": _("Comment"),
        "exported": _("Case file downloaded (ZIP)"),
    }
    return str(titles.get(action, action))


def _event_text(action: str, details: dict[str, Any]) -> str | None:
    if action == "comment":
        return str(details.get("comment") or "")
    if action == "assigned":
        parts = []
        if details.get("for_action"):
            parts.append(_("for action: %(units)s", units=", ".join(details["for_action"])))
        if details.get("for_information"):
            parts.append(_("for information: %(units)s", units=", ".join(details["for_information"])))
        return "; ".join(parts)
    if action == "filed":
        return f"{details.get('reason', '')} · {details.get('file_plan', '')}"
    if action == "reassigned":
        return f"{details.get('from_unit')} → {details.get('to_unit')}: {details.get('reason', '')}"
    if action == "registered":
        return str(details.get("entry") or "")
    if action in ("reply_started", "returned"):
        return details.get("note") or None
    return None


def _event(event: Any) -> dict[str, Any]:
    """A history row as the timeline macro shows it."""
    details = event.details or {}
    return {
        "when": event.at,
        "title": _event_title(event.action, details),
        "who": event.actor if event.actor != "system" else None,
        "text": _event_text(event.action, details),
        "state": "done",
    }


def _field_words(name: str, engine_text: str) -> str:
    """What to fix at a field, in the reader's language (the engine's words are English)."""
    words = {
        "reason": _("Say why (a reason is required)."),
        "file_plan_code": _("Choose a subject of the file plan."),
        "clerk": _("Choose a clerk of this unit."),
        "unit": _("Choose another unit that exists."),
        "comment": _("Write the comment first."),
    }
    return str(words.get(name, engine_text))


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@bp.get("/documents")
def documents_page() -> str:
    """The folders: For action, For information, Registered by me, Filed — with unread counts."""
    user = staff_user()
    name = request.args.get("folder", "action")
    if name not in FOLDERS:
        name = "action"
    page = request.args.get("page", "1")
    return render_template(
        "staff/documents.html",
        folder=name,
        items=folder(db(), user, name, page=int(page) if page.isdigit() else 1),
        counts=folder_counts(db(), user),
        may_register=bool({"protocol_clerk", "admin"} & set(user.roles)),
        section="documents",
    )


def _render(
    document_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    user = staff_user()
    page = open_document(db(), document_id, user)
    return render_template(
        "staff/document.html",
        page=page,
        entry=page.entry,
        me=user,
        clerk_options=[(str(clerk.id), clerk.full_name) for clerk in page.clerks],
        unit_options=[(str(unit.id), unit.name_el) for unit in page.units],
        plan_options=[(subject.code, f"{subject.code} {subject.el}") for subject in file_plan().values()],
        timeline=[_event(event) for event in page.events],
        delivery_words=delivery_words(),
        errors=errors or {},
        values=values or {},
        problem=problem,
        section="documents",
    ), status


@bp.get("/documents/<uuid:document_id>")
def document_page(document_id: uuid.UUID) -> tuple[str, int]:
    """Everything about one document; opening it marks it read for the reader's unit."""
    return _render(document_id)


@bp.get("/documents/<uuid:document_id>/files/<int:position>")
def document_file_view(document_id: uuid.UUID, position: int) -> Response:
    """A file of the document (inline, or downloaded with ?download=1)."""
    found = document_file(db(), document_id, position, staff_user())
    return stored_file_view(
        services().store,
        found.storage_key,
        content_type=found.content_type,
        filename=found.filename,
        sha256=found.sha256,
        size=found.size,
    )


@bp.get("/documents/<uuid:document_id>/files/<int:position>/preview.png")
def document_file_preview(document_id: uuid.UUID, position: int) -> Response:
    """The first page of a PDF file of the document, as an image."""
    found = document_file(db(), document_id, position, staff_user())
    with services().store.open(found.storage_key) as reader:
        data = reader.read()
    return file_response(pdf_first_page_png(data), "image/png", found.filename + ".png", False)


def _act(document_id: uuid.UUID, action: Any, done: str) -> Response | tuple[str, int]:
    """Run one step; on a refusal show the page again with what to fix and what was typed."""
    values = {k: v for k, v in request.form.items() if k != "_csrf"}
    try:
        action()
    except InvalidInput as error:
        db().rollback()
        fields = error.details.get("fields") if isinstance(error.details, dict) else None
        errors = {name: _field_words(name, str(text)) for name, text in dict(fields or {}).items()}
        return _render(
            document_id,
            errors=errors,
            values=values,
            problem=_("Nothing was changed: %(what)s", what="; ".join(errors.values()))
            if errors
            else error.message,
            status=422,
        )
    except PolisError as error:
        db().rollback()
        return _render(document_id, values=values, problem=problem_message(error), status=409)
    flash(done, "good")
    return redirect(url_for("staff.document_page", document_id=document_id))


def _task_id() -> uuid.UUID:
    task_id = _uuid(request.form.get("task", ""))
    if task_id is None:
        raise InvalidInput("This step is no longer open; refresh the page.")
    return task_id


@bp.post("/documents/<uuid:document_id>/route")
def document_route(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """The head gives the document to a clerk of the unit."""
    user = staff_user()

    def step() -> None:
        clerk = _uuid(request.form.get("clerk", ""))
        if clerk is None:
            raise InvalidInput(_("Choose a clerk."), fields={"clerk": _("Choose a clerk.")})
        route_to_clerk(db(), _task_id(), clerk, user)

    return _act(document_id, step, _("The document was given to the clerk."))


@bp.post("/documents/<uuid:document_id>/file")
def document_filing(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """Αρχειοθέτηση with a reason and a file-plan subject."""
    user = staff_user()
    form = request.form
    return _act(
        document_id,
        lambda: file_document(db(), _task_id(), form.get("reason", ""), form.get("file_plan_code", ""), user),
        _("The document was filed."),
    )


@bp.post("/documents/<uuid:document_id>/reply")
def document_reply(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """The unit will answer the document: the reply's draft opens (outgoing documents)."""
    user = staff_user()
    drafts: list[Any] = []
    done = _act(
        document_id,
        lambda: drafts.append(
            start_reply_draft(db(), services().store, _task_id(), request.form.get("note", ""), user)
        ),
        _("A reply was started; it is drafted as an outgoing document."),
    )
    if drafts and isinstance(done, Response):
        return redirect(url_for("staff.outgoing_document_page", document_id=drafts[0].id))
    return done


@bp.post("/documents/<uuid:document_id>/return")
def document_give_back(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """The clerk gives the document back to the head."""
    user = staff_user()
    return _act(
        document_id,
        lambda: return_to_head(db(), _task_id(), request.form.get("note", ""), user),
        _("The document went back to the head of the unit."),
    )


@bp.post("/documents/<uuid:document_id>/reassign")
def document_reassign(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """The head sends the document to another unit, with a reason."""
    user = staff_user()

    def step() -> None:
        unit = _uuid(request.form.get("unit", ""))
        if unit is None:
            raise InvalidInput(_("Choose the unit."), fields={"unit": _("Choose the unit.")})
        reassign(db(), _task_id(), unit, request.form.get("reason", ""), user)

    return _act(document_id, step, _("The document was sent to the other unit."))


@bp.post("/documents/<uuid:document_id>/comment")
def document_comment(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """A comment in the document's history."""
    user = staff_user()
    return _act(
        document_id,
        lambda: comment_on_document(db(), document_id, request.form.get("comment", ""), user),
        _("Your comment was added."),
    )
