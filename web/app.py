"""The Flask application factory."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import Babel, get_locale

from core.clock import ATHENS
from core.settings import Settings, get_settings
from engine.domains import load_domains
from forms.catalogue import default_catalogue
from storage import ObjectStore
from web.context import build_services
from web.csrf import init_csrf
from web.errors import register_error_handlers
from web.pages.ui import init_page_helpers
from web.unit_of_work import init_unit_of_work

TRANSLATIONS = Path(__file__).parent / "translations"


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
        return choice if choice in ("el", "en") else settings.default_locale

    Babel(app, locale_selector=select_locale, timezone_selector=lambda: settings.timezone)
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
    from web.pages import admin as admin_pages
    from web.pages import citizen as citizen_pages
    from web.pages import public, tracking, verify

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
        tracking.bp,
        admin_pages.bp,
    ):
        app.register_blueprint(blueprint)
    init_csrf(app)
    init_unit_of_work(app)
    register_error_handlers(app)

    @app.after_request
    def _security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app
