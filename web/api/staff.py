"""The staff JSON API under ``/api/v1``: inboxes, task actions, cases, comments, incidents.

Every route needs a member of staff: an API token (``Authorization: Bearer``) or the
session cookie (writes then need ``X-CSRF-Token``), see web/auth/tokens.py. Views parse the
request, call one engine service and shape the answer; errors become JSON with a stable
``error`` code in web/errors.py (401 no credentials, 403 not yours, 404, 409, 422).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask_babel import gettext as _

from core.errors import InvalidInput
from engine.administration.runtime import retry_open_incident
from engine.casework.desk import (
    cancel_visible_case,
    case_detail,
    comment_on_case,
    find_department,
    find_user,
    inbox,
    search_cases,
    task_detail,
    user_names,
)
from engine.workflow.commands import assign_task, claim_task, complete_task, forward_task, release_task
from engine.workflow.task_index import InboxFilter
from web.api.input import json_object
from web.api.staff_json import case_summary, detail_json, item_json, task_json
from web.auth.tokens import require_staff
from web.context import db
from web.csrf import csrf_token

bp = Blueprint("api_staff", __name__, url_prefix="/api/v1")


@bp.before_request
def _authenticate() -> None:
    g.staff = require_staff()


def _staff() -> Any:
    return g.staff


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(_("Give '%(name)s' as a non-empty string.", name=name))
    return value


#: Paging offsets and limits are bounded to PostgreSQL's bigint (OFFSET/LIMIT take bigint).
MAX_INT_ARG = 2**63 - 1


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    text = raw.strip()
    if not text.isdigit() or len(text) > 19 or int(text) > MAX_INT_ARG:
        raise InvalidInput(
            _("'%(name)s' must be a whole number from 0 to %(most)d.", name=name, most=MAX_INT_ARG)
        )
    return int(text)


def _bool_arg(name: str) -> bool:
    raw = request.args.get(name, "").lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise InvalidInput(_("'%(name)s' must be true or false.", name=name))


def _datetime_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            _("'%(name)s' must be an ISO 8601 date-time, e.g. 2026-12-01T00:00:00+02:00.", name=name)
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(
            _("'%(name)s' needs a time zone offset, e.g. 2026-12-01T00:00:00+02:00.", name=name)
        )
    if not 1900 <= moment.year <= 9998:  # converting 9999-12-31 to UTC can overflow
        raise InvalidInput(_("'%(name)s' must be a date-time between the years 1900 and 9998.", name=name))
    return moment


def _page(key: str, rows: list[dict[str, Any]], limit: int, offset: int) -> Response:
    """A page of a list, with the offset of the next page (None on the last one)."""
    return jsonify(
        {
            key: rows,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if len(rows) == limit else None,
        }
    )


def _task_answer(task_id: uuid.UUID) -> Response:
    return jsonify(task_json(task_detail(db(), task_id, _staff())))


# Routes ----------------------------------------------------------------------------------


@bp.get("/me")
def me() -> Response:
    """The caller, and the CSRF token that cookie-session writes must send."""
    user = _staff()
    return jsonify(
        {
            "id": str(user.id),
            "username": user.username,
            "full_name": user.full_name,
            "department_id": str(user.department_id) if user.department_id else None,
            "roles": list(user.roles),
            "csrf_token": csrf_token(),
        }
    )


@bp.get("/tasks")
def tasks() -> Response:
    """An inbox: view=mine|department|approvals with filters, sorting and paging."""
    filters = InboxFilter(
        request_type=request.args.get("request_type") or None,
        service=request.args.get("service") or None,
        due_before=_datetime_arg("due_before"),
        overdue=_bool_arg("overdue"),
        sort=request.args.get("sort", "due"),
        limit=_int_arg("limit", 50),
        offset=_int_arg("offset", 0),
    )
    items = inbox(db(), _staff(), request.args.get("view", "mine"), filters)
    names = user_names(db(), {i.assignee_id for i in items if i.assignee_id})
    return _page("tasks", [item_json(item, names) for item in items], filters.limit, filters.offset)


@bp.get("/tasks/<uuid:task_id>")
def task(task_id: uuid.UUID) -> Response:
    """An open task with its form definition and case summary."""
    return _task_answer(task_id)


@bp.post("/tasks/<uuid:task_id>/claim")
def claim(task_id: uuid.UUID) -> Response:
    """Take an unclaimed task of the caller's department and role."""
    claim_task(db(), task_id, _staff())
    return _task_answer(task_id)


@bp.post("/tasks/<uuid:task_id>/release")
def release(task_id: uuid.UUID) -> Response:
    """Give a claimed task back to the department queue."""
    release_task(db(), task_id, _staff())
    return _task_answer(task_id)


@bp.post("/tasks/<uuid:task_id>/complete")
def complete(task_id: uuid.UUID) -> Response:
    """Submit the task's form (``{"data": {...}}``); the case moves on."""
    data = json_object().get("data", {})
    case = complete_task(db(), task_id, data, _staff())
    return jsonify(
        {
            "case": {
                "id": str(case.id),
                "number": case.number,
                "status": case.status,
                "milestone": case.milestone,
            }
        }
    )


@bp.post("/tasks/<uuid:task_id>/assign")
def assign(task_id: uuid.UUID) -> Response:
    """The head gives the task to a member of the department (``{"user": username or id}``)."""
    assignee = find_user(db(), _text(json_object(), "user"))
    assign_task(db(), task_id, assignee, _staff())
    return _task_answer(task_id)


@bp.post("/tasks/<uuid:task_id>/forward")
def forward(task_id: uuid.UUID) -> Response:
    """The head sends the task to another department (``{"department": code or id}``)."""
    department = find_department(db(), _text(json_object(), "department"))
    forward_task(db(), task_id, department.id, _staff())
    return jsonify({"id": str(task_id), "department_id": str(department.id), "forwarded": True})


@bp.get("/cases")
def cases() -> Response:
    """Search cases by number (prefix), status and department."""
    limit, offset = _int_arg("limit", 50), _int_arg("offset", 0)
    found = search_cases(
        db(),
        _staff(),
        number=request.args.get("number") or None,
        status=request.args.get("status") or None,
        department=request.args.get("department") or None,
        limit=limit,
        offset=offset,
    )
    return _page("cases", [case_summary(case) for case in found], limit, offset)


@bp.get("/cases/<uuid:case_id>")
def case(case_id: uuid.UUID) -> Response:
    """A case: business data, applicant, files, audit timeline, notifications, incidents."""
    return jsonify(detail_json(case_detail(db(), case_id, _staff())))


@bp.post("/cases/<uuid:case_id>/comments")
def comment(case_id: uuid.UUID) -> tuple[Response, int]:
    """Add a comment (``{"comment": "..."}``) to the case's history."""
    comment_on_case(db(), case_id, _text(json_object(), "comment"), _staff())
    return jsonify({"case_id": str(case_id), "commented": True}), 201


@bp.post("/cases/<uuid:case_id>/cancel")
def cancel(case_id: uuid.UUID) -> Response:
    """Cancel an active case (head of its department or admin; ``{"reason": "..."}``)."""
    cancel_visible_case(db(), case_id, _text(json_object(), "reason"), _staff())
    return jsonify({"case_id": str(case_id), "status": "cancelled"})


@bp.post("/incidents/<int:incident_id>/retry")
def retry(incident_id: int) -> Response:
    """Retry a failed service task now (administrators)."""
    retry_open_incident(db(), _staff(), incident_id)  # audited in the admin log too
    return jsonify({"incident_id": incident_id, "retried": True})
