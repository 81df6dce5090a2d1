"""The staff workspace: inbox (/work), task, approval queue, case and process pages.

Server-rendered; htmx only refreshes lists. Every view parses the request, calls one engine
service (engine.staff, engine.workspace, engine.commands) and renders; errors become pages
in web/errors.py, except the ones a member of staff can fix in the page (form errors,
conflicts), which come back in the same page with what they typed.
"""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response

from core.errors import PolisError

bp = Blueprint("staff", __name__, url_prefix="/work")


@bp.before_request
def _signed_in() -> Response | None:
    from web.pages.staff.common import require_staff

    return require_staff()


@bp.errorhandler(PolisError)
def _refused(error: PolisError) -> tuple[str, int]:
    from web.pages.staff.common import refusal_page

    return refusal_page(error)


# The views register their routes on ``bp`` when imported.
from web.pages.staff import approvals, cases, inbox, tasks  # noqa: E402, F401
