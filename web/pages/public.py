"""The front page (the services catalogue with the "track a request" box) and the language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for
from werkzeug.wrappers import Response

from web.pages.citizen.catalogue import catalogue_page
from web.redirects import safe_next

bp = Blueprint("main", __name__)
LANGUAGES = ("el", "en")


@bp.get("/")
def index() -> str:
    """The municipality's services for the public; staff find their sign-in in the header."""
    return catalogue_page()


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    """Remember the reader's language and go back where they were."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("main.index")))
