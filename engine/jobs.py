"""The job queue: procrastinate on PostgreSQL runs the engine's wakeups.

Each wakeup row (a BPMN timer, a service task to try) gets a procrastinate job at its
due time, deferred in the same transaction that wrote the row (engine.case_store), so
jobs survive restarts and one that came due while no worker ran is picked up when one
starts. The job only names the wakeup; the row, locked with its case, decides whether
anything happens, which makes every firing exactly-once even if a job runs twice. A
periodic sweep is the safety net for rows without a job; another, hourly, deletes kept
messages that expired before their case waited for them. Timer start events (new cases
on a schedule, engine.timer_starts) are fired by a sweep every minute: their rows, not
jobs, hold the due times, so one due while no worker ran fires when the next one starts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import suppress
from datetime import timedelta

import procrastinate
from sqlalchemy.orm import Session, sessionmaker

from core.errors import PolisError
from core.settings import Settings, get_settings
from engine.audit_anchors import anchor_now
from engine.case_store import WAKEUP_QUEUE, WAKEUP_TASK
from engine.messages import purge_expired_messages
from engine.notifications.outbox import DELIVER_QUEUE, DELIVER_TASK, RetryPolicy, deliver_due
from engine.notifications.senders import senders_from_settings
from engine.rate_counters import purge_counters
from engine.requests.challenge import purge_used_challenges
from engine.requests.pending import purge_expired_holds
from engine.runtime import utcnow
from engine.services import load_handlers
from engine.timer_starts import fire_due_timer_starts
from engine.timers import fire_due_wakeups_in, postpone_wakeup, run_wakeup
from storage import open_store

log = logging.getLogger(__name__)
SWEEP_TASK = "engine.sweep_wakeups"
PURGE_TASK = "engine.purge_messages"
TIMER_START_TASK = "engine.fire_timer_starts"
PURGE_GUARDS_TASK = "requests.purge_abuse_guards"
ANCHOR_TASK = "engine.anchor_audit"
SWEEP_GRACE = timedelta(minutes=1)


def libpq_conninfo(factory: sessionmaker[Session]) -> str:
    """The factory's database as a libpq URI (procrastinate talks to psycopg directly)."""
    engine = factory.kw["bind"]
    url = engine.url.set(drivername="postgresql")
    return str(url.render_as_string(hide_password=False))


def build_app(factory: sessionmaker[Session], settings: Settings | None = None) -> procrastinate.App:
    """A procrastinate app whose tasks run wakeups and send notifications through ``factory``."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_conninfo(factory), min_size=1, max_size=3)
    )

    @app.task(name=WAKEUP_TASK, queue=WAKEUP_QUEUE)
    def run_wakeup_job(wakeup_id: int) -> None:
        try:
            with factory.begin() as session:
                run_wakeup(session, wakeup_id)
        except Exception as exc:
            log.exception("wakeup %s failed; postponed", wakeup_id)
            postpone_wakeup(factory, wakeup_id, exc)

    @app.periodic(cron="* * * * *", periodic_id="engine-sweep")
    @app.task(name=SWEEP_TASK, queue=WAKEUP_QUEUE, queueing_lock=SWEEP_TASK)
    def sweep_wakeups(timestamp: int) -> None:
        # Wakeups overdue by more than a minute lost their job (e.g. written by hand).
        while True:
            current: list[int] = []
            try:
                with factory.begin() as session:
                    if not fire_due_wakeups_in(session, utcnow() - SWEEP_GRACE, limit=1, current=current):
                        return
            except Exception as exc:
                log.exception("wakeup sweep failed")
                if current:
                    postpone_wakeup(factory, current[-1], exc)
                return

    @app.periodic(cron="* * * * *", periodic_id="engine-timer-starts")
    @app.task(name=TIMER_START_TASK, queue=WAKEUP_QUEUE, queueing_lock=TIMER_START_TASK)
    def fire_timer_starts(timestamp: int) -> None:
        # Each occurrence in its own transaction; a missed period fires once (see timer_starts).
        started = fire_due_timer_starts(factory)
        if started:
            log.info("timer start events started %d case(s)", started)

    @app.periodic(cron="17 * * * *", periodic_id="engine-purge-messages")
    @app.task(name=PURGE_TASK, queue=WAKEUP_QUEUE, queueing_lock=PURGE_TASK)
    def purge_messages(timestamp: int) -> None:
        with factory.begin() as session:
            purged = purge_expired_messages(session)
        if purged:
            log.info("purged %d expired message(s) that no case waited for", purged)

    @app.periodic(cron="41 * * * *", periodic_id="requests-purge-abuse-guards")
    @app.task(name=PURGE_GUARDS_TASK, queue=WAKEUP_QUEUE, queueing_lock=PURGE_GUARDS_TASK)
    def purge_abuse_guards(timestamp: int) -> None:
        # Old rate counters, expired used challenges, and holds never confirmed (with their files).
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

    @app.periodic(cron="30 2 * * *", periodic_id="audit-anchor")
    @app.task(name=ANCHOR_TASK, queue=WAKEUP_QUEUE, queueing_lock=ANCHOR_TASK)
    def anchor_audit(timestamp: int) -> None:
        # Daily: the heads of every case chain and of the protocol register, timestamped.
        with factory.begin() as session:
            taken = anchor_now(session, settings or get_settings())
        log.info("audit anchored at %s: %s", taken.tsa_time.isoformat(), taken.digest)

    @app.periodic(cron="* * * * *", periodic_id="notifications-deliver")
    @app.task(name=DELIVER_TASK, queue=DELIVER_QUEUE, queueing_lock=DELIVER_TASK)
    def deliver_notifications(timestamp: int = 0) -> None:
        # Queued by the transaction that wrote a notification, and every minute for retries.
        current = settings or get_settings()
        senders = senders_from_settings(current)
        if not senders:
            log.warning("notifications stay queued: neither SMTP nor an SMS gateway is configured")
            return
        report = deliver_due(factory, senders=senders, policy=RetryPolicy.from_settings(current), limit=500)
        if report.sent or report.failed or report.retrying:
            log.info(
                "notifications: %d sent, %d to retry, %d failed",
                len(report.sent),
                len(report.retrying),
                len(report.failed),
            )

    return app


def run_worker(
    factory: sessionmaker[Session],
    stop: threading.Event | None = None,
    poll_seconds: float = 1.0,
    settings: Settings | None = None,
) -> None:
    """Run the procrastinate worker (engine and notification queues) until ``stop`` is set."""
    stop = stop or threading.Event()
    load_handlers()
    asyncio.run(_serve(build_app(factory, settings), stop, poll_seconds))


async def _serve(app: procrastinate.App, stop: threading.Event, poll_seconds: float) -> None:
    async with app.open_async():
        worker = asyncio.create_task(
            app.run_worker_async(
                queues=[WAKEUP_QUEUE, DELIVER_QUEUE],
                wait=True,
                install_signal_handlers=False,
                delete_jobs="successful",
                fetch_job_polling_interval=poll_seconds,
            )
        )
        log.info("polis worker started")
        try:
            while not stop.is_set() and not worker.done():
                await asyncio.sleep(0.05)
        finally:
            # Also on cancellation (Ctrl-C): let the worker finish its shutdown while the
            # app (its connection pool) is still open.
            if not worker.done():
                worker.cancel()
                with suppress(asyncio.CancelledError):
                    await worker
        if not worker.cancelled():
            worker.result()  # a worker that crashed raises here
    log.info("polis worker stopped")


def start_worker_thread(
    factory: sessionmaker[Session], poll_seconds: float = 1.0, settings: Settings | None = None
) -> tuple[threading.Thread, threading.Event]:
    """Run the worker in a daemon thread (tests, embedded use); set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker, args=(factory, stop, poll_seconds, settings), name="polis-worker", daemon=True
    )
    thread.start()
    return thread, stop
