"""The front page (the services catalogue with the "track a request" box) and the language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for
from werkzeug.wrappers import Response

from web.auth.staff import current_user
from web.pages.citizen.catalogue import catalogue_page
from web.redirects import safe_next

bp = Blueprint("main", __name__)
LANGUAGES = ("el", "en")


@bp.get("/")
def index() -> Response | str:
    """Signed-in staff land on their inbox (the work); everyone else sees the municipality's services."""
    if current_user() is not None:
        return redirect(url_for("staff.inbox_page"))
    return catalogue_page()


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    """Remember the reader's language and go back where they were."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("main.index")))
