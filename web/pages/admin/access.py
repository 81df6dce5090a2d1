"""API tokens (create — the secret shown once —, list, revoke) and the service catalogue's
switches (a service taken off the portal and the API, or offered again)."""

from __future__ import annotations

from datetime import date

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from core.errors import InvalidInput, PolisError
from engine.administration.services import service_states, switch_service
from engine.administration.tokens import issue_token, token_rows, withdraw_token
from engine.people.administration import active_usernames
from engine.people.tokens import SCOPES, IssuedToken
from web.context import db
from web.pages.admin.common import admin_user, bp, form_text, problem_text


def _tokens_page(error: str | None = None, status: int = 200, issued: IssuedToken | None = None) -> Response:
    page = render_template(
        "admin/tokens.html",
        tokens=token_rows(db(), admin_user()),
        people=active_usernames(db()),
        scopes=SCOPES,
        issued=issued,
        error=error,
        form=request.form if issued is None else MultiDict(),
        section="tokens",
    )
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"  # a new secret is on the page once
    return response


@bp.get("/tokens")
def tokens() -> Response:
    """Every API token, and the form to create one."""
    return _tokens_page()


def _expiry() -> date | None:
    text = form_text("expires_on")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(_("Give the expiry date as a date, or leave it empty.")) from None


@bp.post("/tokens")
def create_token() -> Response:
    """Create a token; its secret is shown on this page once and never again."""
    try:
        issued = issue_token(
            db(),
            admin_user(),
            owner=form_text("owner"),
            name=form_text("name"),
            scopes=request.form.getlist("scopes"),
            expires_on=_expiry(),
        )
    except PolisError as exc:
        return _tokens_page(problem_text(exc), 422)
    return _tokens_page(issued=issued, status=201)


@bp.post("/tokens/<token_id>/revoke")
def revoke_token(token_id: str) -> Response:
    """Revoke a token for good."""
    try:
        token = withdraw_token(db(), admin_user(), token_id)
    except PolisError as exc:
        return _tokens_page(problem_text(exc), 404)
    flash(_("Token %(name)s revoked.", name=token.name))
    return redirect(url_for("admin.tokens"))


@bp.get("/services")
def services() -> str:
    """The service catalogue with whether each service accepts new requests."""
    return render_template(
        "admin/services.html", states=service_states(db(), admin_user()), section="services"
    )


@bp.post("/services/<code>/<any(enable, disable):action>")
def switch(code: str, action: str) -> Response:
    """Offer a service again, or take it off the portal and the API."""
    enabled = action == "enable"
    switch_service(db(), admin_user(), code, enabled=enabled)
    if enabled:
        flash(_("Service %(code)s accepts new requests again.", code=code))
    else:
        flash(_("Service %(code)s no longer accepts new requests; cases already started go on.", code=code))
    return redirect(url_for("admin.services"))
