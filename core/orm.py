"""Database engine, the declarative base and the transaction boundary.

Services receive a ``Session`` and never commit; whoever owns the unit of work (a web
request, a job, a CLI command) opens it with :func:`session_scope`, which commits once at
the end or rolls back on any error.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.errors import ServiceUnavailable

# Stable constraint names, so that alembic autogenerate and downgrades agree across machines.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base of every Polis table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url`` with the pool settings Polis uses everywhere.

    Instead of SQLAlchemy's pre-ping (a ``SELECT 1`` round trip, plus the BEGIN it opens,
    on every checkout: a third of a short command's time) a checkout only looks whether
    the idle connection's socket has something to read, which is what a connection the
    server closed (restart, idle timeout) looks like; only then does it ping for real.
    """
    options.setdefault("pool_pre_ping", False)
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    engine = create_engine(url, **options)
    if not options["pool_pre_ping"]:
        event.listen(engine, "checkout", _check_idle_connection)
    return engine


def _check_idle_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout: replace a connection the server has closed, without a round trip."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # not psycopg: nothing cheap to look at
        return
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    try:
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
    except (OSError, ValueError) as exc:
        raise DisconnectionError(str(exc)) from exc
    if not readable:
        return
    # An idle connection has nothing to say unless the server closed it (or sent a
    # notice): find out with a real ping, and let the pool replace it if it fails.
    try:
        dbapi_connection.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as exc:
        raise DisconnectionError(str(exc)) from exc


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose sessions keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit at the end, roll back (and re-raise) on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_database(factory: sessionmaker[Session]) -> None:
    """Raise ServiceUnavailable with a readable reason when the database cannot be reached."""
    session = factory()
    try:
        session.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        bind = session.get_bind()
        where = (
            bind.url.render_as_string(hide_password=True) if isinstance(bind, Engine) else "test connection"
        )
        raise ServiceUnavailable(
            f"Cannot reach the database ({where}): {reason}. Check that the server "
            "is running and that POLIS_DATABASE_URL is right, or unset it to use the embedded "
            "cluster."
        ) from exc
    finally:
        session.close()


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached right now (down, restarting, gone away).

    Such a request is worth retrying in a moment: the web maps it to 503 with Retry-After.
    """
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
