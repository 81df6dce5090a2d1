"""What every ``polis`` command needs: the validated settings and a database to work on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from core.database import DATABASE_NAME, EMBEDDED_APP_LOGIN, database_url, embedded_cluster, ensure_app_login
from core.orm import check_database, make_engine, make_session_factory, session_scope
from core.settings import Settings, load_settings


class LazySettings:
    """Settings read on first use, so that ``polis --help`` works with bad settings."""

    _settings: Settings | None = None

    def get(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings


def settings_of(ctx: click.Context) -> Settings:
    """The command's validated settings."""
    lazy: LazySettings = ctx.find_root().obj
    return lazy.get()


def prepare_database(settings: Settings) -> str:
    """Start the embedded cluster if that is what we use, and make sure the database and (there)
    the application's login role exist; returns the application's URL."""
    if not settings.database_url:
        cluster = embedded_cluster(settings)
        cluster.ensure_running()
        cluster.ensure_database(DATABASE_NAME)
        ensure_app_login(cluster.url(DATABASE_NAME), EMBEDDED_APP_LOGIN)
    url = database_url(settings)
    engine = make_engine(url)
    try:
        check_database(make_session_factory(engine))
    finally:
        engine.dispose()
    return url


@contextmanager
def unit_of_work(ctx: click.Context) -> Iterator[Session]:
    """One committed transaction on the configured database (started if embedded)."""
    engine = make_engine(prepare_database(settings_of(ctx)))
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
