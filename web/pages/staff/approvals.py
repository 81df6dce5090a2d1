"""Bulk approval from the Approvals tab: each case in its own transaction, a result per case."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.casework.workspace import bulk_approve as approve_each
from web.context import services
from web.pages.staff.common import bp, problem_message, safe_back, staff_user


@bp.post("/approvals/bulk")
def bulk_approve() -> tuple[str, int] | Response:
    """Approve the selected tasks one by one and show what happened to each."""
    user = staff_user()
    ids = []
    for raw in request.form.getlist("task"):
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    results = approve_each(services().session_factory, ids, user.id)
    back = safe_back(url_for("staff.inbox_page", view="approvals"))
    if len(results) == 1 and results[0].ok:
        # One click on a row's Approve: back to the queue, which refreshes without that row.
        flash(_("Approved: case %(number)s.", number=results[0].case_number), "good")
        return redirect(back)
    return render_template(
        "staff/bulk_result.html",
        results=results,
        messages={r.task_id: problem_message(r.error) for r in results if r.error is not None},
        back=back,
        section="approvals",
    ), (200 if ids else 422)
