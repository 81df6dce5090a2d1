"""The org chart's and the administration's refusals in the reader's language.

The engine's messages are English, with what the page needs in their details (codes, dates,
names); the administration pages and a head's substitute page say them in Greek or English
from those details. A refusal the page does not know keeps the engine's own words.
"""

from __future__ import annotations

from flask_babel import gettext

from core.errors import PolisError
from web.pages.staff.common import engine_words, task_title


def _(text: str, **values: object) -> str:
    return str(gettext(text, **values))


def _waiting_tasks(details: dict[str, object]) -> str:
    """The waiting approvals as "case number task title; …", titles as staff pages say them."""
    tasks = details.get("tasks")
    if not isinstance(tasks, list):
        return str(details.get("cases") or "")
    listed = "; ".join(f"{task['case']} {task_title(str(task['title']))}" for task in tasks)
    more = details.get("more")
    if isinstance(more, int) and more > 0:
        listed += _(" and %(n)s more", n=more)
    return listed


def _field_problem(field: str) -> str | None:
    messages = {
        "unit_code": _("Give the unit a code of 1-32 letters, digits, - or _ (e.g. DHM-KOIN)."),
        "unit_names": _("Give the unit’s name in Greek and in English."),
        "unit_names_length": _("A unit’s name has at most 200 characters."),
        "unit_kind": _("Choose the kind of unit."),
        "org_file": _("Choose the org chart file (CSV) to preview."),
        "org_file_size": _("The file is larger than 5 MB; an org chart CSV is far smaller."),
        "token_name": _("Give the token a name: what or who uses it."),
        "username": _("Give a username of 1-64 letters, digits, '.', '_' or '-'."),
        "full_name": _("Give the full name, at most 200 characters."),
        "email": _("The email address is not valid; write it like name@example.gr."),
        "token_scopes": _("Choose what the token may do: read, write or both."),
    }
    return messages.get(field)


def _substitution_problem(details: dict[str, object]) -> str | None:
    reason = details.get("reason")
    if reason == "dates_swapped":
        return _("The substitution ends before it starts; swap the dates.")
    if reason == "self":
        return _("A head cannot substitute for themselves; name someone else.")
    if reason == "inactive":
        return _("%(user)s is deactivated and cannot substitute.", user=details.get("substitute"))
    if reason == "not_the_head":
        return _(
            "%(user)s is not the head of %(unit)s; name the unit’s head.",
            user=details.get("head"),
            unit=details.get("unit"),
        )
    if reason == "substitute_not_a_head":
        return _(
            "%(user)s holds no head position, so lacks the head’s rights; give them a head position first "
            "or name another head.",
            user=details.get("substitute"),
        )
    if reason == "in_the_past":
        return _(
            "The substitution starts in the past (%(date)s); start it today or later.",
            date=details.get("starts_on"),
        )
    return None


def org_problem(error: PolisError) -> str:
    """The refusal in the reader's language where it is known, else the engine's words."""
    details = error.details
    field = details.get("field")
    if isinstance(field, str) and (known := _field_problem(field)):
        return known
    if error.code == "substitution_refused" and (known := _substitution_problem(details)):
        return known
    if error.code == "unit_cycle":
        return _(
            "Unit %(unit)s cannot move under %(parent)s: %(parent)s is inside %(unit)s (%(route)s). "
            "Choose a unit outside it.",
            unit=details.get("unit"),
            parent=details.get("parent"),
            route=details.get("route"),
        )
    if error.code == "unit_code_taken":
        return _(
            "A unit with the code %(code)s exists already; choose another code.", code=details.get("unit")
        )
    if error.code == "substitution_overlaps":
        return _(
            "%(head)s already has a substitute from %(start)s to %(end)s; choose dates outside that range "
            "or cancel it first.",
            head=details.get("head"),
            start=details.get("starts_on"),
            end=details.get("ends_on"),
        )
    if error.code == "open_approvals_need_a_head":
        return _(
            "%(username)s is the only head of %(unit)s and %(n)s approval task(s) wait there (%(cases)s). "
            "Give the unit another head first (Add a position below, position: Head of unit), then "
            "deactivate again.",
            username=details.get("username"),
            unit=details.get("unit"),
            n=details.get("waiting"),
            cases=_waiting_tasks(details),
        )
    if error.code == "org_file_not_previewed":
        return _(
            "This is not the file you previewed last (or the preview is over a day old); preview it again, "
            "then apply."
        )
    return engine_words(error)
