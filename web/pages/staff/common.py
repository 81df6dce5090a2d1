"""What every staff page needs: the signed-in member of staff, words for engine codes."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PolisError, ServiceUnavailable
from engine.workflow.errors import FourEyesViolation, TaskConflict, TaskForbidden, TaskNotFound, TaskReserved
from forms.catalogue import UnknownService, get_service
from web.auth.kept_forms import forget_on_resubmit, keep_posted_form
from web.auth.staff import current_user
from web.errors import status_for
from web.redirects import safe_next


def _(text: str, **values: object) -> str:
    return str(gettext(text, **values))


#: BPMN task names as staff read them; the process files keep English names.
TASK_TITLES = {
    "Review request": _l("Review request"),
    "Review overdue request": _l("Review overdue request"),
    "Approve request": _l("Approve request"),
    "Approve request (substitute)": _l("Approve request (substitute)"),
    "Prepare document": _l("Prepare document"),
    "Review document": _l("Review document"),
    "Review document (substitute)": _l("Review document (substitute)"),
    "Handle the request": _l("Handle the request"),
    "Answer (head)": _l("Answer (head)"),
    "Check yesterday's unregistered incoming mail": _l("Check yesterday's unregistered incoming mail"),
    "Route the document": _l("Route the document"),
    "Handle the document": _l("Handle the document"),
    "Handle overdue document": _l("Handle overdue document"),
}

ROLES = {"clerk": _l("clerks"), "head": _l("head of department"), "protocol_clerk": _l("protocol clerks")}

PROCESS_NAMES = {
    "certificate_issuance": _l("Certificate issuance"),
    "document_approval": _l("Document approval"),
    "general_request": _l("General request"),
    "protocol_daily_report": _l("Daily protocol report"),
    "incoming_document": _l("Incoming document"),
}


def locale() -> str:
    """The reader's language code, el or en."""
    return str(get_locale() or "el")


def task_title(title: str) -> str:
    """A task's name in the reader's language."""
    found = TASK_TITLES.get(title)
    return str(found) if found is not None else title


def service_title(code: str | None) -> str:
    """A catalogue service's name in the reader's language ("—" for internal cases)."""
    if not code:
        return "—"
    try:
        return get_service(code).title.get(locale())
    except UnknownService:
        return code


def department_name(department: Any) -> str:
    """A department's name in the reader's language."""
    if department is None:
        return "—"
    return str(department.name_en if locale() == "en" else department.name_el)


def process_name(process_id: str) -> str:
    """A process's name in the reader's language."""
    found = PROCESS_NAMES.get(process_id)
    return str(found) if found is not None else process_id


def problem_message(error: PolisError) -> str:
    """An engine refusal in the reader's words; the engine's own text follows for details."""
    if isinstance(error, FourEyesViolation):
        return _("You prepared this case, so another head must decide on it (four-eyes rule).")
    if isinstance(error, TaskConflict):
        return _("A colleague changed this task meanwhile: %(detail)s", detail=error.message)
    if isinstance(error, TaskNotFound):
        return _("This task is no longer open; it was completed or withdrawn.")
    if isinstance(error, TaskReserved):
        return _("This step of an outgoing document is approved, returned or signed on the document's page.")
    if isinstance(error, TaskForbidden):
        return _("This task is not yours to work on: %(detail)s", detail=error.message)
    return engine_words(error)


_GREEK = re.compile("[\u0370-\u03ff\u1f00-\u1fff]")


def engine_words(error: PolisError) -> str:
    """A refusal no page has words of its own for: the engine writes English, so a Greek reader
    first gets what happened and what to do in Greek, then the engine's words for the specifics."""
    detail = error.message
    if locale() == "en" or _GREEK.search(detail):
        return detail
    if isinstance(error, ServiceUnavailable):
        lead = _("A service Polis needs did not answer; nothing was changed. Try again in a few minutes.")
    elif isinstance(error, Conflict):
        lead = _("This changed meanwhile; refresh the page and look again.")
    elif isinstance(error, PermissionDenied):
        lead = _("This is not yours to do.")
    elif isinstance(error, NotFound):
        lead = _("Not found; refresh the page or check the address.")
    elif isinstance(error, InvalidInput):
        lead = _("Nothing was changed; correct what is said and try again.")
    else:
        lead = _("This was refused; nothing was changed.")
    return str(_("%(lead)s Details: %(detail)s", lead=lead, detail=detail))


def refusal_page(error: PolisError) -> tuple[str, int]:
    """A friendly 403/404/409 page in the reader's language; the engine's words as details."""
    status = status_for(error)
    if status == 404:
        message = _("It does not exist or is no longer open. Check the address, or go back to your inbox.")
    elif status == 403:
        message = _("This belongs to another department or role, so it is not shown to you.")
    else:
        message = problem_message(error)
    if g.get("user") is None:  # refused before anyone signed in (input checks): the plain page
        return render_template("error.html", status=status, message=message), status
    return render_template("staff/refused.html", status=status, message=message, detail=error.message), status


def safe_back(default: str) -> str:
    """Where a form sends the reader back to: a local path only (no open redirect)."""
    return safe_next(request.form.get("next") or request.args.get("next"), default)


def staff_user() -> Any:
    """The signed-in member of staff (the blueprint guard ran before)."""
    return g.user


def require_staff() -> Response | None:
    """The blueprint's guard: anonymous visitors go to the sign-in page, then come back.

    A form posted after the session ended (expired, or ended by a sign-out elsewhere) is kept
    on the server and comes back filled in on its page after sign-in (web.auth.kept_forms).
    """
    user = current_user()
    if user is not None:
        forget_on_resubmit(user.id)
        return None
    page = keep_posted_form(g.get("ended_user_id")) if request.method == "POST" else None
    login = url_for("auth.login", next=page or request.full_path.rstrip("?"))
    if request.headers.get("HX-Request"):
        # A list refreshing itself after the session ended: send the whole page to sign-in
        # instead of swapping the sign-in form into the list.
        return Response(status=204, headers={"HX-Redirect": login})
    return redirect(login)


bp = Blueprint("staff", __name__, url_prefix="/work")
bp.before_request(require_staff)
bp.register_error_handler(PolisError, refusal_page)


def delivery_words() -> dict[str, str]:
    """How a protocol entry arrived or left (its ``delivery_method``), in the reader's language."""
    return {
        "post": _("Post"),
        "hand": _("By hand"),
        "email": _("Email"),
        "kside": _("ΚΣΗΔΕ"),
        "portal": _("Portal"),
    }
