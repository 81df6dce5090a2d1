"""The task page: the request, its files and certificate preview, history, and the task's form."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import NotFound, PolisError
from engine.casework.certificate_facts import FactsInvalid, correct_certificate_facts
from engine.casework.desk import comment_on_case, find_department, find_user
from engine.casework.workspace import completed_by, department_choices, department_clerks
from engine.casework.workspace import task_page as read_task_page
from engine.documents.folders import task_document
from engine.outgoing.folders import task_outgoing_document
from engine.workflow.commands import assign_task, complete_task, forward_task
from engine.workflow.errors import FormInvalid, TaskConflict, TaskNotFound
from forms.schemas import field_problems
from web.context import db
from web.pages.staff.common import bp, locale, problem_message, safe_back, staff_user, task_title
from web.pages.staff.forms import form_data, form_fields, problem_text, typed_answers, unconfirmed_facts


def _render(
    task_id: uuid.UUID,
    *,
    values: dict[str, Any] | None = None,
    fact_values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    user = staff_user()
    page = read_task_page(db(), task_id, user, locale())
    fields = form_fields(page.detail.form)
    is_head = "head" in user.roles and user.department_id == page.detail.task.department_id
    return render_template(
        "staff/task.html",
        page=page,
        task=page.detail.task,
        case=page.detail.case,
        fields=fields,
        labels={f.name: f.label for f in fields} | {f"fact_{f.name}": f.label for f in page.stated_facts},
        values=values or {},
        fact_values=fact_values or {},
        errors=errors or {},
        problem=problem,
        me=user,
        is_head=is_head,
        clerks=department_clerks(db(), page.detail.task.department_id, page.detail.task.role)
        if is_head
        else [],
        departments=department_choices(db()) if is_head else [],
    ), status


@bp.get("/tasks/<uuid:task_id>")
def task_page(task_id: uuid.UUID) -> Response | tuple[str, int]:
    """Everything needed to decide on one page (an incoming document's task: its document page)."""
    document_id = task_document(db(), task_id)
    if document_id is not None:
        return redirect(url_for("staff.document_page", document_id=document_id))
    outgoing_id = task_outgoing_document(db(), task_id)  # a step of an outgoing document's chain
    if outgoing_id is not None:
        return redirect(url_for("staff.outgoing_document_page", document_id=outgoing_id))
    return _render(task_id)


@bp.post("/tasks/<uuid:task_id>/complete")
def complete(task_id: uuid.UUID) -> Response | tuple[str, int]:
    """Submit the task's form; back to the inbox with a confirmation, or the page with what to fix."""
    user = staff_user()
    outgoing_id = task_outgoing_document(db(), task_id)
    if outgoing_id is not None:  # only the document's page (engine.outgoing) completes its steps
        flash(
            _("This step of an outgoing document is approved, returned or signed on the document's page."),
            "info",
        )
        return redirect(url_for("staff.outgoing_document_page", document_id=outgoing_id))
    try:
        page = read_task_page(db(), task_id, user, locale())
    except TaskNotFound:
        # Completed or withdrawn since the page was opened: say by whom, keep what was typed.
        typed = {k: v for k, v in request.form.items() if k not in ("_csrf", "next") and v.strip()}
        done = completed_by(db(), task_id)
        message = (
            _("%(name)s completed this task meanwhile; your answer was not saved.", name=done[0])
            if done
            else _("This task is no longer open; it was completed or withdrawn.")
        )
        return render_template(
            "staff/task_gone.html",
            message=message,
            answers=typed_answers(typed),
            case_id=done[1] if done else None,
        ), 409
    schema = page.detail.form
    data = form_data(schema, request.form)
    problems = field_problems(page.detail.task.form_key, data)
    errors = {p.field: problem_text(p) for p in problems}
    if unconfirmed_facts(schema, data):
        errors["facts_confirmed"] = _("Confirm that you checked the facts before proposing approval.")
    if errors:
        return _render(task_id, values=data, errors=errors, status=422)
    try:
        complete_task(db(), task_id, data, user)
    except (TaskConflict, TaskNotFound) as error:
        db().rollback()
        return render_template(
            "staff/task_gone.html",
            message=problem_message(error),
            answers=typed_answers(data),
            case_id=page.detail.case.id,
        ), 409
    except FormInvalid as error:
        db().rollback()
        return _render(task_id, values=data, problem=error.message, status=422)
    except PolisError as error:
        db().rollback()
        return _render(
            task_id,
            values=data,
            problem=problem_message(error),
            status=403 if error.code == "four_eyes" else 409,
        )
    flash(
        _(
            "Done: “%(task)s” of case %(number)s.",
            task=task_title(page.detail.task.title),
            number=page.detail.case.number,
        ),
        "good",
    )
    return redirect(safe_back(url_for("staff.inbox_page")))


@bp.post("/tasks/<uuid:task_id>/facts")
def correct_facts(task_id: uuid.UUID) -> Response | tuple[str, int]:
    """The clerk corrects the facts the certificate will state, before proposing approval."""
    user = staff_user()
    page = read_task_page(db(), task_id, user, locale())
    names = [fact.name for fact in page.stated_facts]
    values = {name: request.form.get(f"fact_{name}", "") for name in names if f"fact_{name}" in request.form}
    try:
        changed = correct_certificate_facts(db(), task_id, values, user)
    except FactsInvalid as error:
        db().rollback()
        problems = {f"fact_{e.field}": e.message(locale()) for e in error.errors}
        return _render(task_id, fact_values=values, errors=problems, status=422)
    except PolisError as error:
        db().rollback()
        return _render(task_id, problem=problem_message(error), status=409)
    labels = {fact.name: fact.label for fact in page.stated_facts}
    if changed:
        flash(
            _("Corrected: %(fields)s. The preview shows the certificate as it will be issued.",
              fields=", ".join(labels[name] for name in changed)),
            "good",
        )  # fmt: skip
    else:
        flash(_("Nothing was changed: the facts are as they were."), "info")
    return redirect(url_for("staff.task_page", task_id=task_id) + "#h-facts")


@bp.post("/tasks/<uuid:task_id>/comment")
def comment(task_id: uuid.UUID) -> Response | tuple[str, int]:
    """Add a comment to the task's case; it appears in the history."""
    user = staff_user()
    page = read_task_page(db(), task_id, user, locale())
    text = request.form.get("comment_text", "").strip()
    if not text:
        return _render(task_id, errors={"comment_text": _("Write the comment first.")}, status=422)
    comment_on_case(db(), page.detail.case.id, text[:5000], user)
    flash(_("Your comment was added to the case history."), "good")
    return redirect(url_for("staff.task_page", task_id=task_id) + "#history")


@bp.post("/tasks/<uuid:task_id>/assign")
def assign(task_id: uuid.UUID) -> Response | tuple[str, int]:
    """The head gives the task to a named member of the department."""
    user = staff_user()
    try:
        assignee = find_user(db(), request.form.get("user", ""))
        assign_task(db(), task_id, assignee, user)
    except NotFound:
        return _render(task_id, problem=_("Choose a member of the department."), status=422)
    except PolisError as error:
        db().rollback()
        return _render(task_id, problem=problem_message(error), status=409)
    flash(_("The task was given to %(name)s.", name=assignee.full_name), "good")
    return redirect(safe_back(url_for("staff.inbox_page", view="approvals")))


@bp.post("/tasks/<uuid:task_id>/forward")
def forward(task_id: uuid.UUID) -> Response | tuple[str, int]:
    """The head sends the case to another department."""
    user = staff_user()
    try:
        department = find_department(db(), request.form.get("department", ""))
        forward_task(db(), task_id, department.id, user)
    except NotFound:
        return _render(task_id, problem=_("Choose a department."), status=422)
    except PolisError as error:
        db().rollback()
        return _render(task_id, problem=problem_message(error), status=409)
    flash(
        _(
            "The case was forwarded to %(department)s.",
            department=department.name_en if locale() == "en" else department.name_el,
        ),
        "good",
    )
    return redirect(url_for("staff.inbox_page"))
