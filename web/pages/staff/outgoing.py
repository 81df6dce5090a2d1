"""Outgoing documents in the staff workspace: the folders (To sign, For opinion, In progress,
Returned, To dispatch, Sent), a new draft from the type's template, the document page (chain
with each step's state and time, versions and their differences, recipients, reservations,
history, the verification link) and the chain's actions (submit, approve, return)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import InvalidInput, PolisError
from engine.outgoing.bodies import MAX_BODY_BYTES, starting_text
from engine.outgoing.chain import (
    StepSpec,
    approve,
    chain_editor,
    check_chain,
    remove_from_chain,
    return_to_author,
    round_steps,
    save_chain,
    saved_chain_of,
    submit,
)
from engine.outgoing.dispatch import mark_printed
from engine.outgoing.drafts import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    BodyInput,
    RecipientInput,
    attach,
    compare,
    create_draft,
    remove_attachment,
    restore_version,
    revise_draft,
    upload_body,
)
from engine.outgoing.errors import NotYourTurn, OutgoingNotFound, SigningDeferred, WrongState
from engine.outgoing.folders import (
    FOLDERS,
    document_file,
    folder,
    folder_counts,
    open_document,
    units_to_address,
)
from engine.outgoing.followups import follow_up, reply_to_incoming
from engine.outgoing.models import OutgoingKind
from engine.outgoing.signature import (
    begin_external_for,
    documents_to_sign,
    finish_external_for,
    retry_waiting,
    sign_with_remote_service,
    waiting_for_tsa,
)
from web.context import db, services
from web.downloads import stored_file_view
from web.errors import status_for
from web.pages.staff.common import bp, engine_words, problem_message, staff_user


def kind_words() -> dict[str, str]:
    """The document types in the reader's language."""
    return {
        "letter": _("Letter"),
        "decision": _("Decision"),
        "service_certificate": _("Certificate of service"),
        "memo": _("Internal memo"),
    }


def state_words() -> dict[str, str]:
    """Document, step and delivery states in the reader's language."""
    return {
        "draft": _("Draft"),
        "in_chain": _("In the chain"),
        "returned": _("Returned"),
        "to_sign": _("Waiting for the signature"),
        "signed": _("Signed"),
        "registered": _("Registered"),
        "sent": _("Sent"),
        "waiting": _("Still ahead"),
        "current": _("Now"),
        "approved": _("Approved"),
        "closed": _("Not reached"),
        "pending": _("Pending"),
        "to_print": _("On the print list"),
        "printed": _("Printed"),
        "published": _("On the tracking page"),
        "failed": _("Failed"),
        "sign": _("To sign"),
        "opinion": _("For opinion"),
    }


def event_words() -> dict[str, str]:
    """The history's events in the reader's language."""
    return {
        "created": _("Draft created"),
        "version_saved": _("Version saved"),
        "recipients_set": _("Recipients set"),
        "details_changed": _("Details changed"),
        "attachment_added": _("Attachment added"),
        "attachment_removed": _("Attachment removed"),
        "submitted": _("Sent to the signature chain"),
        "approved": _("Approved"),
        "returned": _("Returned to the author"),
        "reservation": _("Reservation"),
        "dissent": _("Dissent"),
        "chain_changed": _("Chain changed"),
        "step_overdue": _("Step overdue"),
        "signature_started": _("Signature started"),
        "signature_waiting": _("Signature waiting for the time-stamping service"),
        "signed": _("Signed"),
        "registered": _("Registered"),
        "delivered": _("Delivered"),
        "delivery_failed": _("Delivery failed; it will be tried again"),
        "sent": _("Sent to every recipient"),
        "printed": _("Printed for posting"),
        "correction_started": _("Correction (ορθή επανάληψη) started"),
        "forwarded": _("Forwarded"),
    }


@bp.get("/outgoing")
def outgoing_page() -> str:
    """The folders of outgoing documents, with counts."""
    user = staff_user()
    name = request.args.get("folder", "to_sign")
    if name not in FOLDERS:
        name = "to_sign"
    return render_template(
        "staff/outgoing.html",
        folder=name,
        items=folder(db(), user, name),
        counts=folder_counts(db(), user),
        kinds=kind_words(),
        states=state_words(),
        section="outgoing",
    )


def _render_new(values: dict[str, str], errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    return render_template(
        "staff/outgoing_new.html",
        values=values,
        errors=errors,
        kinds=kind_words(),
        units=[(str(u.id), u.name_el) for u in units_to_address(db())],
        section="outgoing",
    ), status


def _recipients(form: dict[str, str]) -> list[RecipientInput] | None:
    """The page's recipients: a public body by email, an internal unit (None: a bad unit id)."""
    recipients = []
    if form.get("email", "").strip() or form.get("recipient", "").strip():
        recipients.append(RecipientInput("external", form.get("recipient", ""), email=form.get("email")))
    if form.get("unit"):
        try:
            recipients.append(RecipientInput("internal", "", unit_id=uuid.UUID(form["unit"])))
        except ValueError:
            return None
    return recipients


@bp.get("/outgoing/new")
def outgoing_new_page() -> tuple[str, int]:
    """A new draft written from the type's template."""
    kind = request.args.get("kind", "letter")
    if kind not in {k.value for k in OutgoingKind}:
        kind = "letter"
    return _render_new({"kind": kind, "text": starting_text(kind)}, {})


@bp.post("/outgoing/new")
def outgoing_create() -> Response | tuple[str, int]:
    """Save the new draft (version 1, printed from the template)."""
    form = {k: v for k, v in request.form.items() if k != "_csrf"}
    recipients = _recipients(form)
    if recipients is None:
        return _render_new(form, {"unit": _("Choose a unit from the list.")}, 422)
    try:
        draft = create_draft(
            db(),
            services().store,
            staff_user(),
            kind=form.get("kind", ""),
            subject=form.get("subject", ""),
            recipients=recipients,
            body=BodyInput(template_text=form.get("text", "")),
        )
    except InvalidInput as error:
        db().rollback()
        fields = dict(error.details.get("fields") or {})
        return _render_new(
            form, {k: _field_words(k) for k in fields} or {"subject": engine_words(error)}, 422
        )
    db().commit()
    flash(_("The draft was saved as version 1."), "good")
    return redirect(url_for("staff.outgoing_document_page", document_id=draft.id))


@bp.post("/outgoing/reply/<uuid:incoming_id>")
def outgoing_reply(incoming_id: uuid.UUID) -> Response:
    """Start a reply to an incoming document: a draft from the letter template, answering it."""
    try:
        draft = reply_to_incoming(db(), services().store, incoming_id, staff_user())
    except PolisError as error:
        db().rollback()
        flash(problem_message(error), "bad")
        return redirect(url_for("staff.document_page", document_id=incoming_id))
    db().commit()
    return redirect(url_for("staff.outgoing_document_page", document_id=draft.id))


def _field_words(name: str) -> str:
    words = {
        "subject": _("Write the subject."),
        "kind": _("Choose the type of document."),
        "body": _("Write the text of the document."),
        "recipients": _("Add at least one recipient (an email address or a unit)."),
        "comment": _("Write the comment first."),
        "chain": _("The chain cannot be built: check who signs."),
    }
    return str(words.get(name, name))


def _render(
    document_id: uuid.UUID,
    problem: str | None = None,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> tuple[str, int]:
    try:
        page = open_document(db(), document_id, staff_user())
    except PolisError:
        abort(404)
    diff: list[str] = []
    numbers = [v.number for v in page.versions]
    older, newer = request.args.get("from", ""), request.args.get("to", "")
    if older.isdigit() and newer.isdigit() and int(older) in numbers and int(newer) in numbers:
        diff = compare(db(), document_id, int(older), int(newer))
    elif len(numbers) >= 2:
        older, newer = str(numbers[-2]), str(numbers[-1])
        diff = compare(db(), document_id, numbers[-2], numbers[-1])
    return render_template(
        "staff/outgoing_document.html",
        page=page,
        doc=page.document,
        kinds=kind_words(),
        states=state_words(),
        events=event_words(),
        diff=diff,
        diff_from=older,
        diff_to=newer,
        problem=problem,
        base_url=services().settings.public_base_url.rstrip("/"),
        units=[(str(u.id), u.name_el) for u in units_to_address(db())],
        edit=_edit_values(page),
        errors=errors or {},
        waiting_for_tsa=waiting_for_tsa(page.document),
        follow_ups=[
            ("correction", _("Correction (ορθή επανάληψη)")),
            ("reply", _("Reply")),
            ("forward", _("Forward")),
            ("clone", _("Clone")),
        ],
        version_options=[(str(n), str(n)) for n in numbers],
        max_body_mb=MAX_BODY_BYTES // 1048576,
        max_attachment_mb=MAX_ATTACHMENT_BYTES // 1048576,
        max_attachments=MAX_ATTACHMENTS,
        section="outgoing",
    ), status


def _edit_values(page: Any) -> dict[str, str]:
    """What the author's edit form starts from: the current subject, recipients and text."""
    external = next((r for r in page.recipients if r.kind == "external"), None)
    internal = next((r for r in page.recipients if r.kind == "internal"), None)
    latest = page.versions[-1] if page.versions else None
    return {
        "subject": page.document.subject,
        "recipient": external.name if external else "",
        "email": (external.email or "") if external else "",
        "unit": str(internal.unit_id) if internal else "",
        "text": (latest.template_text or latest.body_text) if latest else "",
    }


@bp.get("/outgoing/<uuid:document_id>")
def outgoing_document_page(document_id: uuid.UUID) -> tuple[str, int]:
    """Everything about one outgoing document."""
    return _render(document_id)


def _act(document_id: uuid.UUID, action: Any, done: str) -> Response | tuple[str, int]:
    try:
        action()
    except InvalidInput as error:
        db().rollback()
        fields = dict(error.details.get("fields") or {})
        words = "; ".join(_field_words(k) for k in fields) or error.message  # the lead says it
        return _render(document_id, _("Nothing was changed: %(what)s", what=words), 422)
    except PolisError as error:
        db().rollback()
        return _render(document_id, problem_message(error), 409)
    db().commit()
    flash(done, "good")
    return redirect(url_for("staff.outgoing_document_page", document_id=document_id))


@bp.post("/outgoing/<uuid:document_id>/save")
def outgoing_save(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """The author's edit: subject, recipients and text (a new version when the text changed)."""
    form = {k: v for k, v in request.form.items() if k != "_csrf"}
    recipients = _recipients(form)
    if recipients is None:
        return _render(document_id, _("Choose a unit from the list."), 422)
    return _act(
        document_id,
        lambda: revise_draft(
            db(),
            services().store,
            document_id,
            staff_user(),
            subject=form.get("subject", ""),
            recipients=recipients,
            template_text=form.get("text", ""),
        ),
        _("The draft was saved."),
    )


@bp.post("/outgoing/<uuid:document_id>/submit")
def outgoing_submit(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """The author sends the draft to its chain (from the organisation chart)."""
    return _act(
        document_id, lambda: submit(db(), document_id, staff_user()), _("Sent to the signature chain.")
    )


@bp.post("/outgoing/<uuid:document_id>/approve")
def outgoing_approve(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """Approve one's step, with an optional comment and a formal reservation."""
    return _act(
        document_id,
        lambda: approve(
            db(),
            document_id,
            staff_user(),
            comment=request.form.get("comment"),
            reservation=request.form.get("reservation"),
            reservation_kind=request.form.get("reservation_kind", "reservation"),
        ),
        _("Approved."),
    )


@bp.post("/outgoing/<uuid:document_id>/return")
def outgoing_return(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """Return the draft to its author with a comment."""
    return _act(
        document_id,
        lambda: return_to_author(db(), document_id, staff_user(), request.form.get("comment", "")),
        _("Returned to the author."),
    )


def _render_sign(
    problem: str | None = None, result: Any = None, chosen: tuple[str, ...] = (), status: int = 200
) -> tuple[str, int]:
    user = staff_user()
    waiting = documents_to_sign(db(), user)
    return render_template(
        "staff/outgoing_sign.html",
        waiting=waiting,
        chosen=chosen,
        problem=problem,
        result=result,
        configured=bool(services().settings.officials_csc_url),
        section="outgoing",
    ), status


@bp.get("/outgoing/sign")
def outgoing_sign_page() -> tuple[str, int]:
    """The signatory's batch: the documents waiting for their signature, one PIN/OTP for all."""
    return _render_sign()


@bp.post("/outgoing/sign")
def outgoing_sign() -> tuple[str, int]:
    """Sign the chosen documents through the remote signing service; a result per document."""
    chosen = tuple(request.form.getlist("documents"))
    ids = []
    for value in chosen:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    try:
        result = sign_with_remote_service(
            db(),
            services().store,
            services().settings,
            ids,
            staff_user(),
            credential_id=request.form.get("credential", ""),
            pin=request.form.get("pin"),
            otp=request.form.get("otp"),
        )
    except PolisError as error:
        db().rollback()
        return _render_sign(_("Nothing was signed: %(why)s", why=error.message), chosen=chosen, status=422)
    db().commit()
    outcome = (
        [(d, _("Signed; it is registered and sent next.")) for d in result.signed]
        + [
            (d, _("Signed by the service, waiting for the time-stamping service: %(why)s", why=w))
            for d, w in result.waiting.items()
        ]
        + [(d, _("Not signed: %(why)s", why=w)) for d, w in result.refused.items()]
    )
    titles = dict(_subjects(outcome))
    return _render_sign(result=[(d, titles.get(d, str(d)), text) for d, text in outcome])


def _subjects(outcome: list[tuple[uuid.UUID, str]]) -> list[tuple[uuid.UUID, str]]:
    from engine.outgoing.drafts import get_document

    found = []
    for document_id, _text in outcome:
        try:
            found.append((document_id, get_document(db(), document_id).subject))
        except PolisError:
            continue
    return found


def _pem_chunks(data: bytes) -> list[bytes]:
    """The certificates of a PEM bundle (the signer's first), or the one DER certificate."""
    marker = b"-----BEGIN CERTIFICATE-----"
    if marker not in data:
        return [data] if data else []
    return [marker + part for part in data.split(marker)[1:]]


@bp.post("/outgoing/<uuid:document_id>/external/begin")
def outgoing_external_begin(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """External signer, step 1: upload your certificate (PEM/DER, chain after it), download what to sign."""
    upload = request.files.get("certificate")
    certificates = _pem_chunks(upload.read() if upload is not None else b"")
    if not certificates:
        return _render(document_id, _("Choose your signing certificate file first."), 422)
    try:
        package = begin_external_for(
            db(),
            services().store,
            services().settings,
            document_id,
            staff_user(),
            certificates[0],
            certificates[1:],
        )
    except PolisError as error:
        db().rollback()
        return _render(document_id, _("Nothing was signed: %(why)s", why=error.message), 422)
    db().commit()
    response = Response(json.dumps(package, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="to-sign-{document_id}.json"'
    return response


@bp.post("/outgoing/<uuid:document_id>/external/finish")
def outgoing_external_finish(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """External signer, step 2: upload what the signing app produced; the pending signature is finished."""
    upload = request.files.get("answer")
    answer = upload.read() if upload is not None else b""
    if not answer:
        return _render(document_id, _("Choose the file your signing app produced."), 422)
    return _act(
        document_id,
        lambda: finish_external_for(
            db(), services().store, services().settings, document_id, staff_user(), answer
        ),
        _("Signed; it is registered and sent next."),
    )


#: Rows the chain form shows at most (the organisation's chains are far shorter).
MAX_CHAIN_ROWS = 12


def _chain_rows(steps: list[StepSpec]) -> list[dict[str, str]]:
    return [{"person": str(s.person_id), "kind": s.kind, "stage": str(s.stage)} for s in steps]


def _posted_rows() -> list[dict[str, str]]:
    """The chain's rows as the form sent them (blank rows dropped)."""
    rows = []
    count = request.form.get("rows", "")
    for i in range(min(int(count), MAX_CHAIN_ROWS) if count.isdigit() else 0):
        person = request.form.get(f"person_{i}", "").strip()
        if not person:
            continue
        rows.append(
            {
                "person": person,
                "kind": request.form.get(f"kind_{i}", "sign"),
                "stage": request.form.get(f"stage_{i}", "").strip(),
            }
        )
    return rows


def _steps(rows: list[dict[str, str]]) -> list[StepSpec] | None:
    """The rows as steps (None: a person or step number the page never offered)."""
    steps = []
    for n, row in enumerate(rows, start=1):
        try:
            person = uuid.UUID(row["person"])
        except ValueError:
            return None
        stage = row["stage"]
        if not stage.isdigit() or not 0 < int(stage) <= 99:
            stage = str(n)
        steps.append(StepSpec(person, row["kind"], int(stage)))
    return steps


def _edited(rows: list[dict[str, str]], action: str) -> list[dict[str, str]]:
    """Move a row up or down (its step number moves with its place) or take it out."""
    verb, _sep, index = action.partition(":")
    if not index.isdigit() or int(index) >= len(rows):
        return rows
    i = int(index)
    if verb == "remove":
        return rows[:i] + rows[i + 1 :]
    j = i - 1 if verb == "up" else i + 1 if verb == "down" else -1
    if not 0 <= j < len(rows):
        return rows
    rows = [dict(r) for r in rows]
    rows[i], rows[j] = rows[j], rows[i]
    rows[i]["stage"], rows[j]["stage"] = rows[j]["stage"], rows[i]["stage"]
    return rows


def _render_chain(
    document_id: uuid.UUID,
    rows: list[dict[str, str]] | None = None,
    *,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
    name: str = "",
    ok: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    try:
        editor = chain_editor(db(), document_id, staff_user())
    except OutgoingNotFound:
        abort(404)
    except NotYourTurn:
        abort(403)
    if rows is None:
        rows = _chain_rows(editor.default)
    current: list[tuple[Any, str]] = []
    if editor.document.status in ("in_chain", "to_sign"):
        names = dict(editor.people)
        current = [(s, names.get(s.person_id, str(s.person_id))) for s in round_steps(db(), document_id)]
    return render_template(
        "staff/outgoing_chain.html",
        doc=editor.document,
        editor=editor,
        saved_options=[(str(c.id), c.name) for c in editor.saved],
        rows=rows,
        blank_rows=max(1, 3 - len(rows)) if len(rows) < MAX_CHAIN_ROWS else 0,
        current=current,
        problem=problem,
        ok=ok,
        errors=errors or {},
        name=name,
        kinds=kind_words(),
        states=state_words(),
        section="outgoing",
    ), status


@bp.get("/outgoing/<uuid:document_id>/chain")
def outgoing_chain_page(document_id: uuid.UUID) -> tuple[str, int]:
    """The author's chain: the organisation chart's default, a saved one, or as edited."""
    return _render_chain(document_id)


def _chain_refusal(error: PolisError) -> str:
    """Why the engine refused a chain or a change to it, in the reader's language."""
    person = str(error.details.get("person") or "")
    words = {
        "empty": _("Add at least the signatory."),
        "last_not_sign": _("The last step must be one signatory, alone, to sign."),
        "twice": _("A person appears twice in the chain."),
        "no_parallel": _("Only decisions have co-signers in parallel: give every person their own step."),
        "step_kind": _("Each step is to sign or for opinion."),
        "inactive": _("%(name)s cannot take part: the account is not active.", name=person),
        "no_position": _(
            "%(name)s holds no position in the organisation: choose someone who does.", name=person
        ),
        "not_running": _("The document is not with its chain now: change the chain before sending it."),
        "waiting_now": _(
            "The document is waiting for this person now: ask them to return it, then change the chain."
        ),
        "not_reached": _("Only a step not yet reached can be removed."),
        "signatory": _("The signatory cannot be removed: return the draft and choose another."),
    }
    detail = words.get(str(error.details.get("reason") or ""), problem_message(error))
    return str(_("The chain was not accepted: %(why)s", why=detail))


@bp.post("/outgoing/<uuid:document_id>/chain")
def outgoing_chain(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """Edit the chain without JavaScript (move, remove, add, load a saved one), check it, save it
    for the document type, or send the draft to it."""
    action = request.form.get("action", "check")
    rows = _posted_rows()
    name = request.form.get("name", "")
    user = staff_user()
    if action == "default":
        return _render_chain(document_id)
    if action == "load":
        editor_kind = request.form.get("kind", "")
        try:
            loaded = saved_chain_of(db(), user, editor_kind, uuid.UUID(request.form.get("saved", "")))
        except (ValueError, InvalidInput):
            return _render_chain(
                document_id, rows, errors={"saved": _("Choose one of your unit's saved chains.")}, status=422
            )
        return _render_chain(document_id, _chain_rows(loaded))
    if action.partition(":")[0] in ("up", "down", "remove"):
        return _render_chain(document_id, _edited(rows, action), name=name)
    if action == "add":
        return _render_chain(document_id, rows, name=name)
    steps = _steps(rows)
    if steps is None:
        return _render_chain(document_id, rows, problem=_("Choose each person from the list."), status=422)
    kind = request.form.get("kind", "")
    try:
        if action == "save":
            if not name.strip():
                return _render_chain(
                    document_id, rows, errors={"name": _("Give the saved chain a name.")}, status=422
                )
            save_chain(db(), user, kind, name, steps)
            done = _("The chain was saved for this document type.")
        elif action == "submit":
            submit(db(), document_id, user, steps)
            done = _("Sent to the signature chain.")
        else:
            check_chain(db(), kind, steps)
            db().rollback()
            return _render_chain(document_id, rows, name=name, ok=_("The chain can be used as it is."))
    except PolisError as error:
        db().rollback()
        status = 422 if isinstance(error, InvalidInput) else 409
        return _render_chain(document_id, rows, problem=_chain_refusal(error), name=name, status=status)
    db().commit()
    flash(done, "good")
    if action == "submit":
        return redirect(url_for("staff.outgoing_document_page", document_id=document_id))
    return redirect(url_for("staff.outgoing_chain_page", document_id=document_id))


@bp.post("/outgoing/<uuid:document_id>/chain/remove")
def outgoing_chain_remove(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """The author takes someone not yet reached out of the running chain."""
    try:
        person = uuid.UUID(request.form.get("person", ""))
    except ValueError:
        return _render_chain(document_id, problem=_("Choose each person from the list."), status=422)
    try:
        remove_from_chain(db(), document_id, staff_user(), person)
    except PolisError as error:
        db().rollback()
        status = 422 if isinstance(error, InvalidInput) else 409
        return _render_chain(document_id, problem=_chain_refusal(error), status=status)
    db().commit()
    flash(_("Removed from the chain."), "good")
    return redirect(url_for("staff.outgoing_chain_page", document_id=document_id))


def _upload(field: str) -> tuple[str, bytes]:
    """The uploaded file's name and bytes (empty when none was chosen)."""
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        return "", b""
    return upload.filename, upload.read()


def _body_words(error: PolisError) -> str:
    """Why a body file was refused, in the reader's language."""
    words = {
        "empty": _("Choose the document's file (PDF, DOCX or ODT); it was empty or none was chosen."),
        "too_large": _("The file is larger than %(mb)s MB.", mb=MAX_BODY_BYTES // 1048576),
        "type": _(
            "This file is not a PDF, DOCX or ODT (its contents say otherwise, whatever its name): "
            "save the document as one of these and upload it again."
        ),
        "encrypted": _("The PDF is protected with a password: save it without one and upload it again."),
    }
    reason = str(error.details.get("reason") or "")
    if reason in words:
        return str(words[reason])
    if isinstance(error, InvalidInput):
        return str(_("The file is damaged and does not open: save it again and upload it."))
    return problem_message(error)


@bp.post("/outgoing/<uuid:document_id>/body")
def outgoing_body(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """The author uploads the body (PDF, DOCX or ODT): a new version."""
    filename, data = _upload("file")
    try:
        saved = upload_body(db(), services().store, document_id, staff_user(), filename or "body", data)
    except InvalidInput as error:
        db().rollback()
        return _render(document_id, errors={"file": _body_words(error)}, status=422)
    except PolisError as error:
        db().rollback()
        return _render(document_id, problem_message(error), 409)
    db().commit()
    flash(_("The file was saved as version %(n)s.", n=saved.number), "good")
    return redirect(url_for("staff.outgoing_document_page", document_id=document_id) + "#versions-title")


def _attachment_words(error: PolisError) -> str:
    fields = dict(error.details.get("fields") or {})
    words = {
        "empty": _("Choose a file to attach; it was empty or none was chosen."),
        "too_large": _("The file is larger than %(mb)s MB.", mb=MAX_ATTACHMENT_BYTES // 1048576),
        "type": _("Attach a PDF, an image (PNG, JPEG) or an office file (DOCX, XLSX, ODT, ODS)."),
        "too_many": _("At most %(n)s attachments: remove one first.", n=MAX_ATTACHMENTS),
    }
    return str(words.get(str(fields.get("attachments") or ""), problem_message(error)))


@bp.post("/outgoing/<uuid:document_id>/attachments")
def outgoing_attach(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """The author attaches a file to the draft."""
    filename, data = _upload("attachment")
    try:
        row = attach(db(), services().store, document_id, staff_user(), filename or "attachment", data)
    except InvalidInput as error:
        db().rollback()
        return _render(document_id, errors={"attachment": _attachment_words(error)}, status=422)
    except PolisError as error:
        db().rollback()
        return _render(document_id, problem_message(error), 409)
    db().commit()
    flash(_("Attached: %(name)s.", name=row.filename), "good")
    return redirect(url_for("staff.outgoing_document_page", document_id=document_id) + "#attachments-title")


@bp.post("/outgoing/<uuid:document_id>/attachments/<uuid:attachment_id>/remove")
def outgoing_detach(document_id: uuid.UUID, attachment_id: uuid.UUID) -> Response | tuple[str, int]:
    """The author takes an attachment off the draft."""
    try:
        name = remove_attachment(db(), document_id, staff_user(), attachment_id)
    except PolisError as error:
        db().rollback()
        return _render(document_id, problem_message(error), status_for(error))
    db().commit()
    flash(_("Removed: %(name)s.", name=name), "good")
    return redirect(url_for("staff.outgoing_document_page", document_id=document_id) + "#attachments-title")


@bp.post("/outgoing/<uuid:document_id>/versions/<int:number>/restore")
def outgoing_restore(document_id: uuid.UUID, number: int) -> Response | tuple[str, int]:
    """The author makes an older version current again, as a new version."""
    try:
        saved = restore_version(db(), services().store, document_id, staff_user(), number)
    except PolisError as error:
        db().rollback()
        return _render(document_id, problem_message(error), status_for(error))
    db().commit()
    flash(_("Version %(old)s is current again, as version %(n)s.", old=number, n=saved.number), "good")
    return redirect(url_for("staff.outgoing_document_page", document_id=document_id) + "#versions-title")


def _send(found: Any) -> Response:
    return stored_file_view(
        services().store,
        found.object_key,
        content_type=found.media_type,
        filename=found.filename,
        sha256=found.sha256,
    )


@bp.get("/outgoing/<uuid:document_id>/versions/<int:number>/file")
def outgoing_version_file(document_id: uuid.UUID, number: int) -> Response:
    """One version's body file (inline, or downloaded with ?download=1)."""
    return _send(document_file(db(), document_id, staff_user(), number=number))


@bp.get("/outgoing/<uuid:document_id>/attachments/<uuid:attachment_id>")
def outgoing_attachment_file(document_id: uuid.UUID, attachment_id: uuid.UUID) -> Response:
    """An attachment (inline, or downloaded with ?download=1)."""
    return _send(document_file(db(), document_id, staff_user(), attachment_id=attachment_id))


@bp.get("/outgoing/<uuid:document_id>/signed.pdf")
def outgoing_signed_file(document_id: uuid.UUID) -> Response:
    """The signed and registered PDF (to print, or downloaded with ?download=1)."""
    return _send(document_file(db(), document_id, staff_user(), signed=True))


@bp.post("/outgoing/<uuid:document_id>/follow-up")
def outgoing_follow_up(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """A new draft from a registered document: correction, reply, forward or clone."""
    how = request.form.get("how", "")
    try:
        draft = follow_up(db(), services().store, document_id, staff_user(), how)
    except PolisError as error:
        db().rollback()
        if error.details.get("reason") == "not_registered":
            message = _("Only a signed and registered document has follow-ups; change the draft instead.")
        elif isinstance(error, InvalidInput):
            message = _("Choose one of the follow-ups on the page.")
        else:
            message = problem_message(error)
        return _render(document_id, message, status_for(error))
    db().commit()
    flash(
        _("A new draft was made from %(subject)s; it is yours to edit.", subject=_subject_of(document_id)),
        "good",
    )
    return redirect(url_for("staff.outgoing_document_page", document_id=draft.id))


def _subject_of(document_id: uuid.UUID) -> str:
    from engine.outgoing.drafts import get_document

    return get_document(db(), document_id).subject


@bp.post("/outgoing/<uuid:document_id>/retry-signature")
def outgoing_retry_signature(document_id: uuid.UUID) -> Response | tuple[str, int]:
    """The signatory tries again a signature waiting for the time-stamping service (no PIN)."""
    try:
        retry_waiting(db(), services().store, services().settings, document_id, staff_user())
    except SigningDeferred:
        db().rollback()
        return _render(
            document_id,
            _(
                "The time-stamping service is still unavailable; the document keeps waiting and "
                "nothing was registered. Try again later."
            ),
            503,
        )
    except PolisError as error:
        db().rollback()
        message = (
            _("No signature of this document is waiting for the time-stamping service.")
            if error.details.get("reason") == "not_waiting"
            else problem_message(error)
        )
        return _render(document_id, message, status_for(error))
    db().commit()
    flash(_("Signed; it is registered and sent next."), "good")
    return redirect(url_for("staff.outgoing_document_page", document_id=document_id))


def _printing_words(error: PolisError) -> str:
    if isinstance(error, NotYourTurn):
        return str(_("Only the protocol office keeps the print list."))
    if isinstance(error, (WrongState, OutgoingNotFound)):
        return str(_("This copy is not on the print list any more (printed meanwhile?)."))
    return problem_message(error)


@bp.post("/outgoing/printed/<uuid:recipient_id>")
def outgoing_printed(recipient_id: uuid.UUID) -> Response | tuple[str, int]:
    """The protocol office printed and posted a copy: it leaves the print list."""
    try:
        mark_printed(db(), recipient_id, staff_user())
    except PolisError as error:
        db().rollback()
        flash(_printing_words(error), "bad")
        return redirect(url_for("staff.outgoing_page", folder="dispatch"))
    db().commit()
    flash(_("Marked as printed and posted."), "good")
    return redirect(url_for("staff.outgoing_page", folder="dispatch"))
