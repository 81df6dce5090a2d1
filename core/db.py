"""Database engine, the declarative base and the transaction boundary.

Services receive a ``Session`` and never commit; whoever owns the unit of work (a web
request, a job, a CLI command) opens it with :func:`session_scope`, which commits once at
the end or rolls back on any error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
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
    """An engine for ``url`` with the pool settings Polis uses everywhere."""
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    return create_engine(url, **options)


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
