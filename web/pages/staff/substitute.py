"""A head names their own substitute for a leave (/work/substitute): the dates, who stands in.

The engine (engine.people.own_substitute) checks that the person acts in their own head
position and applies the substitution rules; a refusal (an overlap, with its dates) comes
back in the page with what was typed.
"""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core.errors import InvalidInput, PolisError
from engine.people.own_substitute import name_own_substitute, own_substitutions
from web.context import db
from web.pages.org_messages import org_problem
from web.pages.staff.common import bp, staff_user


def _page(problem: str | None = None, status: int = 200) -> tuple[str, int]:
    overview = own_substitutions(db(), staff_user())
    page = render_template(
        "staff/substitute.html",
        overview=overview,
        problem=problem,
        form=request.form,
        section="substitute",
    )
    return page, status


@bp.get("/substitute")
def substitute_page() -> tuple[str, int]:
    """The head's substitutions and the form to name one."""
    return _page()


def _day(name: str) -> date:
    try:
        return date.fromisoformat(request.form.get(name, "").strip())
    except ValueError:
        raise InvalidInput(_("Choose both dates.")) from None


@bp.post("/substitute")
def name_substitute() -> Response | tuple[str, int]:
    """Record the head's substitute for a date range."""
    try:
        row = name_own_substitute(
            db(),
            staff_user(),
            substitute=request.form.get("substitute", ""),
            starts_on=_day("starts_on"),
            ends_on=_day("ends_on"),
            reason=request.form.get("reason", "").strip() or None,
        )
    except PolisError as exc:
        if exc.code == "not_acting_as_head":
            raise
        if exc.code == "substitution_overlaps":
            message = _(
                "You already have a substitute from %(start)s to %(end)s; choose dates outside that range.",
                start=exc.details.get("starts_on"),
                end=exc.details.get("ends_on"),
            )
            return _page(message, 409)
        return _page(org_problem(exc), 422)
    flash(
        _(
            "Your substitute is recorded from %(start)s to %(end)s.",
            start=row.starts_on.strftime("%d/%m/%Y"),
            end=row.ends_on.strftime("%d/%m/%Y"),
        ),
        "good",
    )
    return redirect(url_for("staff.substitute_page"))
