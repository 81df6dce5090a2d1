"""The worker's hourly purge of the abuse guards of anonymous submissions: old rate counters,
expired used challenges, and holds never confirmed (with their files). Registered by engine.domains."""

from __future__ import annotations

import logging

import procrastinate
from sqlalchemy.orm import Session, sessionmaker

from core.errors import PolisError
from core.ratelimits import purge_counters
from core.settings import Settings, get_settings
from engine.requests.challenge import purge_used_challenges
from engine.requests.pending import purge_expired_holds
from engine.workflow.case_store import TIMER_QUEUE
from storage import open_store

log = logging.getLogger(__name__)
PURGE_GUARDS_TASK = "requests.purge_abuse_guards"


def install_abuse_guard_purge(
    app: procrastinate.App, factory: sessionmaker[Session], settings: Settings | None = None
) -> None:
    """Add the hourly purge to the worker's ``app``."""

    @app.periodic(cron="41 * * * *", periodic_id="requests-purge-abuse-guards")
    @app.task(name=PURGE_GUARDS_TASK, queue=TIMER_QUEUE, queueing_lock=PURGE_GUARDS_TASK)
    def purge_abuse_guards(timestamp: int) -> None:
        with factory.begin() as session:
            counters = purge_counters(session)
            challenges = purge_used_challenges(session)
            objects = purge_expired_holds(session)
        if objects:
            store = open_store(settings or get_settings())
            for key, version_id in objects:
                try:
                    store.discard(key, version_id)
                except PolisError:
                    log.warning("could not discard the file of an expired hold: %s", key)
        if counters or challenges or objects:
            log.info(
                "purged %d rate counter(s), %d used challenge(s), %d held file(s)",
                counters,
                challenges,
                len(objects),
            )
