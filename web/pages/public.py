"""The front page and the language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from web.auth.staff import current_user
from web.redirects import safe_next

bp = Blueprint("main", __name__)
LANGUAGES = ("el", "en")


@bp.get("/")
def index() -> Response | str:
    """Signed-in staff land on their inbox (the work); everyone else sees how to sign in."""
    if current_user() is not None:
        return redirect(url_for("staff.inbox_page"))
    return render_template("index.html", user=None)


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    """Remember the reader's language and go back where they were."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("main.index")))
