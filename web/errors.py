"""The one place where Polis errors become HTTP responses.

API paths (``/api/``) get JSON ``{"error": code, "message": text}``; pages get a friendly
page in the reader's language. Unexpected exceptions are logged with their traceback and
shown as a plain apology: the traceback never reaches the client.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from core.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolisError,
    ServiceUnavailable,
    Unauthenticated,
)
from core.orm import database_unavailable

#: PostgreSQL's codes for a lock wait past lock_timeout and a statement past statement_timeout.
LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"

STATUS_BY_ERROR: tuple[tuple[type[PolisError], int], ...] = (
    (NotFound, 404),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (Conflict, 409),
    (InvalidInput, 422),
    (ServiceUnavailable, 503),
    (ConfigurationError, 500),
)


#: What a 503 asks clients to wait before retrying (a database restart takes seconds).
RETRY_AFTER_SECONDS = 30


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def status_for(error: PolisError) -> int:
    """The HTTP status of a Polis error (400 for any other kind)."""
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 400


def wants_json() -> bool:
    """API clients get JSON errors; browsers get pages."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _respond(status: int, code: str, message: str, details: Mapping[str, object] | None = None) -> Response:
    if wants_json():
        body: dict[str, object] = {"error": code, "message": message}
        if details:
            body["details"] = details
        response = jsonify(body)
        response.status_code = status
        return response
    page = render_template("error.html", status=status, message=message)
    return Response(page, status=status, mimetype="text/html")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on ``app``."""

    @app.errorhandler(PolisError)
    def _polis_error(error: PolisError) -> Response:
        status = status_for(error)
        if status >= 500:
            app.logger.error("%s: %s", type(error).__name__, error.message)
        details = {
            k: v for k, v in error.details.items() if isinstance(v, str | int | float | bool | list | dict)
        }
        response = _respond(status, error.code, error.message, details)
        if status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="polis"'
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        messages = {
            404: _("The page you asked for does not exist. Check the address."),
            405: _("This address does not accept that kind of request."),
            413: _("The file is too large."),
            400: _("The request could not be understood."),
            414: _("The address is too long; shorten the query."),
        }
        message = messages.get(status, error.description or error.name)
        response = _respond(status, (error.name or "error").lower().replace(" ", "_"), message)
        # Keep what the exception says about the method or the wait (Allow on 405,
        # Retry-After on 429, WWW-Authenticate on 401), never its HTML content type.
        for name, value in error.get_headers():
            if name.lower() in ("allow", "retry-after", "www-authenticate"):
                response.headers[name] = value
        return response

    @app.errorhandler(DBAPIError)
    def _database_busy(error: DBAPIError) -> Response:
        # A web request's lock wait or statement ran past its timeout (web/services.db):
        # nothing was changed (the transaction rolls back); the client may try again.
        if getattr(error.orig, "sqlstate", None) in (LOCK_NOT_AVAILABLE, QUERY_CANCELED):
            app.logger.warning("Database timeout on %s %s: %s", request.method, request.path, error.orig)
            response = _respond(
                503,
                "busy",
                _("This record is busy right now; nothing was changed. Try again in a moment."),
            )
            response.headers["Retry-After"] = "5"
            return response
        return _unexpected(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if database_unavailable(error):
            # The database is down or restarting: a moment's wait fixes it, so say so
            # (503 + Retry-After) instead of an apology for a bug.
            app.logger.error(
                "database unavailable on %s %s: %s", request.method, request.path, _first_line(error)
            )
            response = _respond(
                503,
                "unavailable",
                _("The service is briefly unavailable. Nothing was changed; please try again in a minute."),
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return _respond(
            500,
            "internal",
            _("Something went wrong on our side. Nothing was changed; please try again later."),
        )
