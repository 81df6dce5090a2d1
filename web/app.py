"""The Flask application factory."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, g, request, session
from flask_babel import Babel, get_locale, get_translations
from werkzeug.middleware.proxy_fix import ProxyFix

from core.clock import ATHENS
from core.settings import Settings, get_settings
from engine.domains import load_domains
from forms.catalogue import default_catalogue
from storage import ObjectStore
from web.context import build_services
from web.csrf import init_csrf
from web.errors import register_error_handlers
from web.input_guard import init_input_guard
from web.log_masking import install_log_masking
from web.pages.admin.register import init_admin_pages
from web.pages.staff.register import init_staff_pages
from web.pages.ui import init_page_helpers
from web.unit_of_work import init_unit_of_work

TRANSLATIONS = Path(__file__).parent / "translations"
#: Every HTML page: scripts, styles, fonts and images only from our own static files; no
#: inline script or style, no plugins, no framing, forms post only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def athens_time(value: str | datetime | None) -> str:
    """An ISO time (UTC) as people in Greece read it: 22/11/2026 17:05, Athens time."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M")


def athens_day(value: str | date | None) -> str:
    """An ISO date as 22/11/2026."""
    if not value:
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d/%m/%Y")


def install_request_translations(app: Flask) -> None:
    """Templates translate through the request's catalogue, looked up once per request.

    Flask-Babel's own template callables find the catalogue again for every string (a few
    context lookups each): an inbox page of 25 rows translates some 250 strings, and that
    search cost more than its database queries.
    """

    def catalogue() -> Any:
        found = g.get("_polis_translations")
        if found is None:
            found = g._polis_translations = get_translations()
        return found

    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda text: catalogue().ugettext(text),
        lambda singular, plural, n: catalogue().ungettext(singular, plural, n),
        newstyle=True,  # Jinja fills in %(name)s values and escapes, as with Flask-Babel's own
    )


def create_app(
    settings: Settings | None = None, *, session_factory: Any = None, store: ObjectStore | None = None
) -> Flask:
    """Build the app for ``settings`` (read from the environment when None).

    Tests pass a session factory bound to their own transaction and a store of their own.
    """
    settings = settings or get_settings()
    load_domains()
    # A broken service catalogue stops the start with the file and field to fix.
    default_catalogue()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    install_log_masking(app.logger, logging.getLogger("werkzeug"))
    init_input_guard(app)
    if settings.proxy_count:
        # Behind N reverse proxies: the client address is the one the nearest proxy saw, so
        # a client cannot dodge the rate limits with its own X-Forwarded-For. Without a
        # configured proxy the headers are ignored (REMOTE_ADDR is the client).
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.config.update(
        SECRET_KEY=settings.secret(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        POLIS_SETTINGS=settings,
        # Whole submissions; werkzeug refuses a larger body before reading it (413).
        MAX_CONTENT_LENGTH=settings.max_request_mb * 1024 * 1024,
    )
    app.extensions["polis"] = build_services(settings, session_factory=session_factory, store=store)

    def select_locale() -> str:
        choice = request.args.get("lang") or session.get("lang")
        if choice in ("el", "en"):
            return str(choice)
        # Then the browser's or API client's preference; the default when it names neither.
        return request.accept_languages.best_match(("el", "en")) or settings.default_locale

    Babel(app, locale_selector=select_locale, timezone_selector=lambda: settings.timezone)
    install_request_translations(app)
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["municipality_name"] = settings.municipality_name
    app.jinja_env.filters["athens"] = athens_time
    app.jinja_env.filters["athens_date"] = athens_day
    init_page_helpers(app)

    from web import files, health
    from web.api import admin as api_admin
    from web.api import citizen as api_citizen
    from web.api import openapi
    from web.api import protocol as api_protocol
    from web.api import requests as api_requests
    from web.api import sms as api_sms
    from web.api import staff as api_staff
    from web.api import verify as api_verify
    from web.auth import oidc as citizen_oidc
    from web.auth import staff as staff_auth
    from web.pages import public, tracking, verify
    from web.pages.citizen import account, apply, catalogue
    from web.pages.citizen import emailed_links as citizen_pages

    for blueprint in (
        health.bp,
        staff_auth.bp,
        public.bp,
        files.bp,
        verify.bp,
        api_verify.bp,
        api_protocol.bp,
        api_requests.bp,
        api_staff.bp,
        api_admin.bp,
        openapi.bp,
        api_citizen.bp,
        api_sms.bp,
        citizen_oidc.bp,
        citizen_pages.bp,
        catalogue.bp,
        apply.bp,
        account.bp,
        tracking.bp,
    ):
        app.register_blueprint(blueprint)
    init_staff_pages(app)
    init_admin_pages(app)
    init_csrf(app)
    init_unit_of_work(app)
    register_error_handlers(app)

    @app.after_request
    def _security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    return app
