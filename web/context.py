"""What the web layer needs from below, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, g

from core.database import database_url
from core.errors import ServiceUnavailable
from core.orm import check_database, make_engine, make_session_factory
from core.settings import Settings
from storage import ObjectStore, open_store


@dataclass
class Services:
    """The process-wide handles: settings, database and object store."""

    settings: Settings
    engine: Any
    session_factory: Any
    store: ObjectStore

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


def build_services(
    settings: Settings, *, session_factory: Any = None, store: ObjectStore | None = None
) -> Services:
    """Connect to the database and the object store named by the settings."""
    engine = None
    if session_factory is None:
        engine = make_engine(database_url(settings))
        session_factory = make_session_factory(engine)
    else:
        engine = session_factory.kw.get("bind")
    return Services(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        store=store if store is not None else open_store(settings),
    )


def services() -> Services:
    """The services of the running app."""
    result: Services = current_app.extensions["polis"]
    return result


def db() -> Any:
    """The request's database session (one transaction per request, see unit_of_work)."""
    if "db" not in g:
        g.db = services().session_factory()
    return g.db
