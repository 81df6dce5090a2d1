"""The front page and the language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from web.auth import current_user
from web.redirects import safe_next

bp = Blueprint("main", __name__)
LANGUAGES = ("el", "en")


@bp.get("/")
def index() -> str:
    """Staff see who they are signed in as; everyone else, how to sign in."""
    return render_template("index.html", user=current_user())


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    """Remember the reader's language and go back where they were."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("main.index")))
