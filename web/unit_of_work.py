"""One transaction per request: commit when the response is a success, else roll back."""

from __future__ import annotations

from flask import Flask, Response, g


def init_unit_of_work(app: Flask) -> None:
    """Commit the request's session after a successful response; roll back otherwise."""

    @app.after_request
    def _commit(response: Response) -> Response:
        session = g.get("db")
        if session is not None and response.status_code < 400:
            # An error here (e.g. a constraint checked at commit) becomes an error response
            # through the handlers in web/errors.py; nothing half-written remains.
            session.commit()
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.rollback()
            session.close()
