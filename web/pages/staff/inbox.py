"""The inbox (/work): tabs My tasks / My department / Approvals, filters in the URL, claim/release."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.clock import ATHENS, utcnow
from core.errors import PolisError
from engine.casework.certificate_facts import corrected_cases
from engine.casework.desk import inbox, task_detail, user_names
from engine.casework.saved_views import delete_view, save_view, visible_views
from engine.workflow.commands import claim_task, release_task
from engine.workflow.errors import TaskConflict
from engine.workflow.index_versions import index_version
from engine.workflow.task_index import InboxFilter, count_cap, inbox_counts
from forms.catalogue import list_services
from web.auth.kept_forms import current_kept_form as kept_form
from web.context import db, read_only
from web.csrf import csrf_token
from web.page_cache import PageCache
from web.pages.staff.common import bp, locale, problem_message, safe_back, staff_user, task_title

PAGE_SIZE = 25
SORTS = ("due", "created", "newest")


def end_of_week(now: datetime) -> datetime:
    """Next Monday 00:00 in Athens: "due this week" means before then."""
    today = now.astimezone(ATHENS).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, time(0, 0), tzinfo=ATHENS)


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() else 1


def inbox_args(user: Any) -> dict[str, Any]:
    """The inbox's query arguments, cleaned: what the links and the filter form keep."""
    view = request.args.get("view", "")
    if view not in ("mine", "department", "approvals") or (view == "approvals" and "head" not in user.roles):
        view = "mine"
    sort = request.args.get("sort", "due")
    args: dict[str, Any] = {"view": view, "sort": sort if sort in SORTS else "due"}
    for name in ("service", "q"):
        value = request.args.get(name, "").strip()
        if value:
            args[name] = value[:100]
    for name in ("overdue", "week"):
        if request.args.get(name) in ("1", "true", "on"):
            args[name] = "1"
    return args


#: Rendered inbox pages of this process (web.page_cache): a poll or a return to an unchanged
#: list costs one version read instead of the list, the counts and the drawing.
PAGES = PageCache(size=256)  # an inbox page is some 60 KB: at most ~15 MB per process


def _page_key(user: Any) -> tuple[Any, ...] | None:
    """Everything the inbox page shows depends on, or None when it must be drawn afresh.

    Read before the list: a page drawn afterwards is at least as new as the versions in its
    key. Flash messages and a form kept over an ended session belong to one drawing only.
    """
    if "_flashes" in session or kept_form() is not None:
        return None
    versions = index_version(db(), (user.department_id, user.id, user.acting_for_id))
    minute = utcnow().replace(second=0, microsecond=0)  # deadline words and filters follow the clock
    return (
        versions,
        minute,
        request.full_path,
        locale(),
        csrf_token(),
        user.user.id,
        user.full_name,
        user.position,
        user.choices,
        user.roles,
        user.department_id,
    )


@bp.get("")
@read_only
def inbox_page() -> str:
    """The landing page after sign-in: the work waiting for this member of staff."""
    user = staff_user()
    key = _page_key(user)
    kept = PAGES.get(key) if key is not None else None
    if kept is not None:
        return kept
    drawn = _draw_inbox(user)
    if key is not None:
        PAGES.put(key, drawn)
    return drawn


def _draw_inbox(user: Any) -> str:
    args = inbox_args(user)
    page = _page_number()
    base = InboxFilter(
        service=args.get("service"),
        overdue="overdue" in args,
        due_before=end_of_week(utcnow()) if "week" in args else None,
        text=args.get("q"),
        sort=args["sort"],
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    items = inbox(db(), user, args["view"], base)
    has_next = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    # What the clerk corrected, beside each case the head approves (fixed once proposed).
    corrected = (
        corrected_cases(db(), {i.case_id for i in items}, locale()) if args["view"] == "approvals" else {}
    )
    return render_template(
        "staff/inbox.html",
        args=args,
        page=page,
        has_next=has_next,
        items=items,
        corrected=corrected,
        counts=inbox_counts(db(), user, base),
        count_cap=count_cap(base),
        names=user_names(db(), {i.assignee_id for i in items if i.assignee_id}),
        services=sorted(list_services(), key=lambda s: s.title.el),
        is_head="head" in user.roles,
        me=user,
        saved_views=visible_views(db(), user),
    )


@bp.post("/tasks/<uuid:task_id>/claim")
def claim(task_id: uuid.UUID) -> Response:
    """Take a task; if a colleague took it first, say who."""
    user = staff_user()
    back = safe_back(url_for("staff.task_page", task_id=task_id))
    try:
        claim_task(db(), task_id, user)
    except TaskConflict:
        db().rollback()
        holder = _holder(task_id, user)
        flash(
            _("Taken by %(name)s before you.", name=holder) if holder else _("A colleague took it first."),
            "bad",
        )
        return redirect(back)
    except PolisError as error:
        db().rollback()
        flash(problem_message(error), "bad")
        return redirect(back)
    detail = task_detail(db(), task_id, user)
    flash(
        _(
            "You took “%(task)s” of case %(number)s.",
            task=task_title(detail.task.title),
            number=detail.case.number,
        ),
        "good",
    )
    return redirect(back)


def _holder(task_id: uuid.UUID, user: Any) -> str | None:
    try:
        detail = task_detail(db(), task_id, user)
    except PolisError:
        return None
    return detail.assignee.full_name if detail.assignee is not None else None


@bp.post("/tasks/<uuid:task_id>/release")
def release(task_id: uuid.UUID) -> Response:
    """Give a task back to the department's queue."""
    user = staff_user()
    back = safe_back(url_for("staff.inbox_page"))
    try:
        release_task(db(), task_id, user)
    except PolisError as error:
        db().rollback()
        flash(problem_message(error), "bad")
        return redirect(back)
    flash(_("The task is back in the department's queue."), "good")
    return redirect(back)


@bp.post("/views")
def save_current_view() -> Response:
    """Keep the current filters under a name, for oneself or the whole department."""
    user = staff_user()
    query = {k: v for k, v in request.form.items() if k not in ("_csrf", "name", "shared")}
    try:
        save_view(db(), user, request.form.get("name", ""), query, shared=request.form.get("shared") == "1")
    except PolisError as error:
        db().rollback()
        flash(_("The view was not saved: %(reason)s", reason=error.message), "bad")
    else:
        flash(_("The view was saved."), "good")
    kept: dict[str, Any] = {k: v for k, v in query.items() if v}
    return redirect(url_for("staff.inbox_page", **kept))


@bp.post("/views/<uuid:view_id>/delete")
def delete_saved_view(view_id: uuid.UUID) -> Response:
    """Delete one of one's own saved views."""
    try:
        delete_view(db(), staff_user(), view_id)
    except PolisError as error:
        db().rollback()
        flash(problem_message(error), "bad")
    else:
        flash(_("The view was deleted."), "good")
    return redirect(url_for("staff.inbox_page"))
