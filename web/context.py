"""What the web layer needs from below, built once per process from the settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from core.database import database_url
from core.errors import ServiceUnavailable
from core.orm import check_database, make_engine, make_session_factory
from core.settings import Settings
from storage import ObjectStore, open_store

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Services:
    """The process-wide handles: settings, database and object store."""

    settings: Settings
    engine: Any
    session_factory: Any
    store: ObjectStore
    #: Rate-limit counters commit on their own connection, whatever the request's transaction
    #: does (see core.ratelimits); tests bind the app to one connection, so they get another.
    limiter_engine: Any = None
    #: Whether the engine's connections carry the web timeouts from their start (our own pool).
    timeouts_on_connect: bool = False
    _reading_engine: Any = field(default=None, init=False, repr=False)

    def limiter(self) -> Any:
        """The Engine rate-limit counters are written with."""
        if self.limiter_engine is None:
            self.limiter_engine = _limiter_engine(database_url(self.settings))
        return self.limiter_engine

    def reading_engine(self) -> Any:
        """The engine in autocommit, for pages that only read (see :func:`read_only`)."""
        if self._reading_engine is None:
            self._reading_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._reading_engine

    def check_database(self) -> None:
        """Raise ServiceUnavailable if the database does not answer."""
        check_database(self.session_factory)

    def check_worker(self) -> None:
        """Raise ServiceUnavailable if no ``polis worker`` sent a heartbeat lately."""
        from engine.workflow.jobs import worker_health  # the job queue is heavy; /healthz alone needs it

        session = self.session_factory()
        try:
            problem = worker_health(session)
        finally:
            session.close()
        if problem is not None:
            raise ServiceUnavailable(problem)


_LIMITER_ENGINES: dict[str, Engine] = {}
_LIMITER_LOCK = threading.Lock()


def _limiter_engine(url: str) -> Engine:
    """One small pool per database for apps whose own bind is a single connection (tests)."""
    with _LIMITER_LOCK:
        engine = _LIMITER_ENGINES.get(url)
        if engine is None:
            engine = _LIMITER_ENGINES[url] = make_engine(url, pool_size=2, max_overflow=2)
        return engine


def build_services(
    settings: Settings, *, session_factory: Any = None, store: ObjectStore | None = None
) -> Services:
    """Connect to the database and the object store named by the settings."""
    engine = None
    own_pool = session_factory is None
    if own_pool:
        # The web timeouts are the connections' own settings, sent with the connection
        # start-up packet: no SET per transaction (a round trip on every request).
        engine = make_engine(database_url(settings), connect_args={"options": web_timeout_options(settings)})
        session_factory = make_session_factory(engine)
    else:
        engine = session_factory.kw.get("bind")
    return Services(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        store=store if store is not None else open_store(settings),
        limiter_engine=engine if isinstance(engine, Engine) else None,
        timeouts_on_connect=own_pool,
    )


def web_timeout_options(settings: Settings) -> str:
    """libpq ``options`` giving a web connection its statement and lock timeouts."""
    return (
        f"-c statement_timeout={int(settings.web_statement_timeout_seconds) * 1000} "
        f"-c lock_timeout={int(settings.web_lock_timeout_seconds) * 1000}"
    )


def services() -> Services:
    """The services of the running app."""
    result: Services = current_app.extensions["polis"]
    return result


def db() -> Any:
    """The request's database session (one transaction per request, see unit_of_work).

    Every transaction it begins has the web timeouts: a request never waits forever on a case
    the worker is sealing, nor runs a statement without end. The app's own pool sets them
    once per connection (build_services); an app given another bind (tests, one shared
    connection) sets them per transaction (SET LOCAL).
    """
    if "db" not in g:
        polis = services()
        if polis.timeouts_on_connect and _reads_only():
            # A page that only reads: each statement its own transaction (READ COMMITTED gives
            # every statement its own snapshot anyway), no BEGIN and COMMIT round trips.
            session = polis.session_factory(bind=polis.reading_engine())
            event.listen(session, "before_flush", _refuse_writes)
        else:
            session = polis.session_factory()
            if not polis.timeouts_on_connect:
                event.listen(session, "after_begin", _web_timeouts)
        g.db = session
    return g.db


def read_only(view: F) -> F:
    """Mark a page view that only reads the database: on GET and HEAD its session runs in
    autocommit (no transaction block). A flush from such a session is refused (ReadOnlyPage)."""
    view.polis_read_only = True  # type: ignore[attr-defined]
    return view


class ReadOnlyPage(RuntimeError):
    """A page marked :func:`read_only` tried to write: a programming error, never stored."""


def _reads_only() -> bool:
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "polis_read_only", False))


def _refuse_writes(session: Any, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlyPage(f"{request.endpoint} is marked read_only but writes")


def _web_timeouts(session: Any, _transaction: Any, connection: Any) -> None:
    settings = services().settings
    # SET LOCAL takes no bind parameters; both values are validated integers.
    connection.exec_driver_sql(
        f"SET LOCAL statement_timeout = {int(settings.web_statement_timeout_seconds) * 1000}; "
        f"SET LOCAL lock_timeout = {int(settings.web_lock_timeout_seconds) * 1000}"
    )
