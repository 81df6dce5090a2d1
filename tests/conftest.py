"""Fixtures shared by the whole suite: a throwaway PostgreSQL, sessions, stores, the app.

The cluster is started once per test session with the same code ``make run`` uses
(core/pgcluster.py), with durability off because it is thrown away. Each test gets a
session inside a transaction that is rolled back; tests that need real commits from
several connections get a database of their own cloned from the migrated template.
``POLIS_TEST_DATABASE_URL`` points the suite at an external server instead (the role needs
CREATEDB).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from core.database import APP_ROLE, ensure_app_login, upgrade_database
from core.orm import make_engine
from core.pgcluster import PgCluster
from core.settings import Settings
from engine.domains import load_domains
from storage.filesystem import FilesystemStore

TEMPLATE_DB = "polis_template"
TEST_DB = "polis_test"
#: Tests run as the application does: as a login role in polis_app, which owns nothing.
APP_LOGIN = "polis_test_app"
_counter = itertools.count(1)


class TestServer:
    """Where the test databases live: our throwaway cluster or an external server."""

    def __init__(self, base_url: str) -> None:
        self.base = make_url(base_url)

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server, as the owner (migrations, tampering)."""
        return self.base.set(database=database).render_as_string(hide_password=False)

    def app_url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` as the application's role. An external server keeps
        its one role (a password-less login role needs our throwaway cluster's trust auth)."""
        if os.environ.get("POLIS_TEST_DATABASE_URL"):
            return self.url(database)
        return self.base.set(database=database, username=APP_LOGIN).render_as_string(hide_password=False)

    def admin(self) -> psycopg.Connection[Any]:
        """An autocommit connection for CREATE/DROP DATABASE."""
        url = self.base.set(drivername="postgresql", database="postgres")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def create(self, name: str, template: str | None = None) -> str:
        """(Re)create database ``name``, optionally from ``template``; return its URL."""
        with self.admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            connection.execute(statement)
        return self.url(name)

    def drop(self, name: str) -> None:
        """Drop database ``name`` even if connections remain."""
        with self.admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _scratch_root() -> Path:
    # Memory-backed when available: the cluster is thrown away, so speed beats durability.
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="polis-test-", dir=shm))
    return Path(tempfile.mkdtemp(prefix="polis-test-"))


@pytest.fixture(scope="session", autouse=True)
def domains() -> None:
    """Plug the domains into the runtime, as every Polis process does at start."""
    load_domains()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TestServer]:
    """A PostgreSQL server for the suite: throwaway cluster, or POLIS_TEST_DATABASE_URL."""
    external = os.environ.get("POLIS_TEST_DATABASE_URL")
    if external:
        yield TestServer(external.replace("postgresql://", "postgresql+psycopg://", 1))
        return
    root = _scratch_root()
    os.chmod(root, 0o755)
    cluster = PgCluster(root / "pg", durable=False)
    cluster.ensure_running()
    try:
        yield TestServer(cluster.url())
    finally:
        cluster.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_server: TestServer) -> str:
    """A database migrated to head, the template every test database is cloned from."""
    url = pg_server.create(TEMPLATE_DB)
    upgrade_database(url)
    ensure_app_login(url, APP_LOGIN)
    return url


@pytest.fixture(scope="session")
def pg_url(pg_server: TestServer, pg_template: str) -> str:
    """URL of the shared test database (tests use it through rolled-back transactions)."""
    return pg_server.create(TEST_DB, template=TEMPLATE_DB)


@pytest.fixture(scope="session")
def db_engine(pg_url: str) -> Iterator[Engine]:
    """The engine of the shared test database. It logs in as the owner and switches to the
    application's role on every connection, so tests run with the application's privileges and
    a test that plays the owner (tampering) can ``RESET ROLE`` in its own transaction — see
    :func:`as_owner`; the rollback at the end of the test switches back."""
    engine = make_engine(pg_url)

    @event.listens_for(engine, "connect")
    def _as_application(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {APP_ROLE}")
        dbapi_connection.commit()

    yield engine
    engine.dispose()


@contextmanager
def as_owner(session: Session) -> Iterator[Session]:
    """Play the owner of the tables (what an insider with the migration role can do) inside the
    test's transaction, then switch back to the application's role."""
    session.execute(text("RESET ROLE"))
    try:
        yield session
    finally:
        session.execute(text(f"SET ROLE {APP_ROLE}"))


@pytest.fixture
def db_connection(db_engine: Engine) -> Iterator[Any]:
    """A connection inside a transaction that is rolled back after the test."""
    connection = db_engine.connect()
    transaction = connection.begin()
    try:
        yield connection
    finally:
        transaction.rollback()
        connection.close()


@pytest.fixture
def session_factory(db_connection: Any) -> sessionmaker[Session]:
    """Sessions on the test's connection: their commits are savepoints, undone at the end."""
    return sessionmaker(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db_session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is rolled back after the test."""
    session = session_factory()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def fresh_db_url(pg_server: TestServer, pg_template: str) -> Iterator[str]:
    """A database of the test's own, cloned from the migrated template, for real commits."""
    name = f"polis_fresh_{os.getpid()}_{next(_counter)}"
    pg_server.create(name, template=TEMPLATE_DB)
    try:
        yield pg_server.app_url(name)
    finally:
        pg_server.drop(name)


@pytest.fixture
def test_settings(tmp_path: Path, pg_url: str) -> Settings:
    """Settings for a test: its own var/ and file storage, the shared test database."""
    return Settings(
        env="test",
        var_dir=tmp_path / "var",
        database_url=pg_url,
        storage_url=(tmp_path / "objects").as_uri(),
        secret_key="test-secret-key-test-secret-key",
        base_url="http://polis.test",
        # Tests submit many requests from one address; the limits have tests of their own.
        submission_challenge_cost=1,
        submissions_per_address_hour=10_000,
        submissions_per_contact_day=10_000,
    )


@pytest.fixture
def object_store(test_settings: Settings, tmp_path: Path) -> FilesystemStore:
    """A filesystem object store in the test's temporary directory."""
    return FilesystemStore(
        tmp_path / "objects", secret=test_settings.secret(), base_url=test_settings.public_base_url
    )


@pytest.fixture
def app(
    test_settings: Settings, session_factory: sessionmaker[Session], object_store: FilesystemStore
) -> Any:
    """The Flask app, bound to the test's rolled-back transaction and store."""
    from web.app import create_app

    application = create_app(test_settings, session_factory=session_factory, store=object_store)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Any) -> Any:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request: pytest.FixtureRequest) -> Iterator[None]:
    """Rate-limit counters commit on their own connection (core.ratelimits), outside the
    test's rolled-back transaction: empty them around every test that uses the database."""
    uses_database = "pg_url" in request.fixturenames
    if uses_database:
        _clear_rate_limits(request.getfixturevalue("db_engine"))
    yield
    if uses_database:
        _clear_rate_limits(request.getfixturevalue("db_engine"))


def _clear_rate_limits(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM rate_limit_counters"))


@pytest.fixture(scope="session", autouse=True)
def _dispose_limiter_engines() -> Iterator[None]:
    """The apps' rate-limit engines (web.context) live for the process: close them at the end."""
    yield
    from web import context as services

    for engine in services._LIMITER_ENGINES.values():
        engine.dispose()
