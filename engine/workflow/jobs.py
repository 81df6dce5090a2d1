"""The job queue: procrastinate on PostgreSQL runs the engine's wakeups and sends notices.

Each wakeup row (a BPMN timer, a service task to try) gets a procrastinate job at its
due time, deferred in the same transaction that wrote the row (engine.workflow.case_store), so
jobs survive restarts and one that came due while no worker ran is picked up when one
starts. The job only names the wakeup; the row, locked with its case, decides whether
anything happens, which makes every firing exactly-once even if a job runs twice. A
periodic sweep is the safety net for rows without a job; another, hourly, deletes kept
messages that expired before their case waited for them; another, every minute, compacts the
task index's change log (engine.workflow.index_versions). Timer start events (new cases
on a schedule, engine.workflow.timer_starts) are fired by a sweep every minute: their rows, not
jobs, hold the due times, so one due while no worker ran fires when the next one starts.

Three queues, each served by its own workers with their own concurrency and a time limit
per job (:data:`QUEUE_GROUPS`): timers (and the sweeps), service tasks (sealing, issuing,
protocol registration) and notifications. A mail server that hangs until its timeout on
every message therefore delays only other notices, never a due timer or a seal.

The worker survives its database going away: when procrastinate's connection fails it
logs why, waits (1 s, doubling up to a minute) and connects again. Jobs a killed worker
held (``doing`` for ever otherwise) are retried by a sweep every minute once their worker
stopped sending procrastinate's heartbeat. The worker also writes its own heartbeat row,
which ``/healthz`` reads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import procrastinate
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from core.clock import utcnow
from core.settings import Settings
from engine.workflow.case_store import SERVICE_QUEUE, TIMER_QUEUE, WAKEUP_QUEUE, WAKEUP_TASK
from engine.workflow.index_versions import compact_index_changes
from engine.workflow.messages import purge_expired_messages
from engine.workflow.models import WorkerHeartbeat
from engine.workflow.timer_starts import fire_due_timer_starts
from engine.workflow.timers import fire_due_wakeups_in, postpone_wakeup, run_wakeup

log = logging.getLogger(__name__)
SWEEP_TASK = "engine.sweep_wakeups"
PURGE_TASK = "engine.purge_messages"
TIMER_START_TASK = "engine.fire_timer_starts"
STALLED_TASK = "engine.retry_stalled_jobs"
COMPACT_TASK = "engine.compact_index_changes"
SWEEP_GRACE = timedelta(minutes=1)
#: How often the worker writes its heartbeat row; /healthz calls a worker dead after
#: :data:`HEARTBEAT_STALE`.
HEARTBEAT_SECONDS = 10.0
HEARTBEAT_STALE = timedelta(seconds=60)
#: A job whose worker sent no procrastinate heartbeat for this long was held by a worker
#: that died (kill -9, power loss): it is retried.
STALLED_AFTER_SECONDS = 30.0
RECONNECT_MAX_SECONDS = 60.0


@dataclass(frozen=True)
class QueueGroup:
    """Queues served by one procrastinate worker: how many jobs at once, how long each may run."""

    name: str
    queues: tuple[str, ...]
    concurrency: int
    job_timeout_seconds: float


QUEUE_GROUPS: tuple[QueueGroup, ...] = (
    # The old single "engine" queue is served here too, for jobs deferred before the split.
    QueueGroup("timers", (TIMER_QUEUE, WAKEUP_QUEUE), concurrency=2, job_timeout_seconds=120.0),
    # Sealing is CPU and TSA bound: two at a time on the usual 2-core town-hall server.
    QueueGroup("services", (SERVICE_QUEUE,), concurrency=2, job_timeout_seconds=300.0),
)
#: Adds a domain's tasks to the worker's app (e.g. the notification delivery of engine.notifications).
JobInstaller = Callable[[procrastinate.App, "sessionmaker[Session]", Settings | None], None]
_installers: list[JobInstaller] = []
_domain_groups: list[QueueGroup] = []


def register_jobs(installer: JobInstaller, group: QueueGroup | None = None) -> None:
    """Have every worker app also carry the tasks ``installer`` adds, served by ``group``'s workers."""
    if installer not in _installers:
        _installers.append(installer)
    if group is not None and group not in _domain_groups:
        _domain_groups.append(group)


def queue_groups() -> tuple[QueueGroup, ...]:
    """The engine's queue groups and those the domains registered."""
    return (*QUEUE_GROUPS, *_domain_groups)


def libpq_conninfo(factory: sessionmaker[Session]) -> str:
    """The factory's database as a libpq URI (procrastinate talks to psycopg directly)."""
    engine = factory.kw["bind"]
    url = engine.url.set(drivername="postgresql")
    return str(url.render_as_string(hide_password=False))


def build_app(factory: sessionmaker[Session], settings: Settings | None = None) -> procrastinate.App:
    """A procrastinate app whose tasks run wakeups and send notifications through ``factory``."""
    # Each worker holds one connection to listen and one per running job.
    pool_size = sum(group.concurrency + 1 for group in queue_groups()) + 2
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_conninfo(factory), min_size=1, max_size=pool_size
        )
    )

    @app.task(name=WAKEUP_TASK, queue=TIMER_QUEUE)
    def run_wakeup_job(wakeup_id: int) -> None:
        try:
            with factory.begin() as session:
                run_wakeup(session, wakeup_id)
        except Exception as exc:
            log.exception("wakeup %s failed; postponed", wakeup_id)
            postpone_wakeup(factory, wakeup_id, exc)

    @app.periodic(cron="* * * * *", periodic_id="engine-sweep")
    @app.task(name=SWEEP_TASK, queue=TIMER_QUEUE, queueing_lock=SWEEP_TASK)
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
    @app.task(name=TIMER_START_TASK, queue=TIMER_QUEUE, queueing_lock=TIMER_START_TASK)
    def fire_timer_starts(timestamp: int) -> None:
        # Each occurrence in its own transaction; a missed period fires once (see timer_starts).
        started = fire_due_timer_starts(factory)
        if started:
            log.info("timer start events started %d case(s)", started)

    @app.periodic(cron="17 * * * *", periodic_id="engine-purge-messages")
    @app.task(name=PURGE_TASK, queue=TIMER_QUEUE, queueing_lock=PURGE_TASK)
    def purge_messages(timestamp: int) -> None:
        with factory.begin() as session:
            purged = purge_expired_messages(session)
        if purged:
            log.info("purged %d expired message(s) that no case waited for", purged)

    @app.periodic(cron="* * * * *", periodic_id="engine-compact-index-changes")
    @app.task(name=COMPACT_TASK, queue=TIMER_QUEUE, queueing_lock=COMPACT_TASK)
    def compact_index_versions(timestamp: int) -> None:
        # Keeps the task index's change log short, so reading a version stays cheap.
        with factory.begin() as session:
            compact_index_changes(session)

    @app.periodic(cron="* * * * *", periodic_id="engine-retry-stalled")
    @app.task(name=STALLED_TASK, queue=TIMER_QUEUE, queueing_lock=STALLED_TASK)
    async def retry_stalled_jobs(timestamp: int) -> None:
        await retry_stalled(app)

    for install in _installers:
        install(app, factory, settings)
    return app


async def retry_stalled(
    app: procrastinate.App, seconds_since_heartbeat: float = STALLED_AFTER_SECONDS
) -> int:
    """Put back to the queue the jobs held by workers that stopped sending heartbeats; return how many."""
    stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat))
    for job in stalled:
        log.warning("job %s (%s) was held by a worker that died; retrying it", job.id, job.task_name)
        await app.job_manager.retry_job(job)
    return len(stalled)


def _job_time_limit(group: QueueGroup) -> Callable[..., Awaitable[Any]]:
    """A procrastinate worker middleware that gives up on a job after the group's limit.

    The job is marked failed and its slot freed; a synchronous job's thread cannot be
    killed and ends at its own I/O timeout, its transaction then committing or not as
    usual (rows, not jobs, decide what happens, so a wakeup it did not finish runs again
    from the sweep).
    """

    async def middleware(call_next: Callable[[], Awaitable[Any]], context: Any, worker: Any) -> Any:
        try:
            return await asyncio.wait_for(call_next(), group.job_timeout_seconds)
        except TimeoutError:
            log.error(
                "job %s (%s) on queue %s ran longer than %.0f s; the worker moved on",
                context.job.id,
                context.job.task_name,
                context.job.queue,
                group.job_timeout_seconds,
            )
            raise

    return middleware


def worker_name() -> str:
    """This worker process as it appears in the heartbeat table: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(factory: sessionmaker[Session], name: str, started_at: Any) -> None:
    """Write this worker's heartbeat row (insert or refresh)."""
    now = utcnow()
    with factory.begin() as session:
        session.execute(
            insert(WorkerHeartbeat)
            .values(worker=name, started_at=started_at, beat_at=now)
            .on_conflict_do_update(index_elements=["worker"], set_={"beat_at": now})
        )
        # Rows of workers gone for a day are history nobody reads.
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - timedelta(days=1)))


def worker_health(session: Session) -> str | None:
    """None if some worker beat recently; else what /healthz reports."""
    last = session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
    if last is None:
        return "no worker has started: run `polis worker` (or `polis run`)"
    age = utcnow() - last
    if age > HEARTBEAT_STALE:
        return (
            f"the worker's last heartbeat was {int(age.total_seconds())} s ago: timers, service tasks and "
            "notices are not running; check `polis worker` (systemctl status polis-worker)"
        )
    return None


def run_worker(
    factory: sessionmaker[Session],
    stop: threading.Event | None = None,
    poll_seconds: float = 1.0,
    settings: Settings | None = None,
    groups: tuple[QueueGroup, ...] | None = None,
) -> None:
    """Run the procrastinate workers (one per queue group) until ``stop`` is set.

    A lost database connection does not end the worker: it logs, waits with backoff and
    reconnects, until ``stop`` is set. The caller loads the domains first
    (engine.domains.load_domains), so their service-task handlers and jobs are registered.
    """
    stop = stop or threading.Event()
    name = worker_name()
    delay = 1.0
    while not stop.is_set():
        began = time.monotonic()
        try:
            chosen = groups if groups is not None else queue_groups()
            asyncio.run(_serve(build_app(factory, settings), stop, poll_seconds, chosen, factory, name))
            return
        except Exception as exc:
            if stop.is_set():
                return
            if time.monotonic() - began > RECONNECT_MAX_SECONDS:
                delay = 1.0  # it ran fine for a while: this is a new outage
            log.error(
                "polis worker: lost its database connection or failed (%s: %s); reconnecting in %.0f s",
                type(exc).__name__,
                str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                delay,
            )
            stop.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)
    log.info("polis worker stopped")


async def _serve(
    app: procrastinate.App,
    stop: threading.Event,
    poll_seconds: float,
    groups: tuple[QueueGroup, ...],
    factory: sessionmaker[Session],
    name: str,
) -> None:
    started_at = utcnow()
    async with app.open_async():
        await asyncio.to_thread(beat, factory, name, started_at)
        workers = [
            asyncio.create_task(
                app.run_worker_async(
                    name=f"polis-{group.name}",
                    queues=list(group.queues),
                    concurrency=group.concurrency,
                    wait=True,
                    install_signal_handlers=False,
                    delete_jobs="successful",
                    fetch_job_polling_interval=poll_seconds,
                    worker_middleware=[_job_time_limit(group)],
                ),
                name=f"polis-{group.name}",
            )
            for group in groups
        ]
        log.info(
            "polis worker started: %s",
            ", ".join(f"{g.name} ({'+'.join(g.queues)}, {g.concurrency} at a time)" for g in groups),
        )
        next_beat = time.monotonic() + HEARTBEAT_SECONDS
        try:
            while not stop.is_set() and not any(worker.done() for worker in workers):
                await asyncio.sleep(0.05)
                if time.monotonic() >= next_beat:
                    await asyncio.to_thread(beat, factory, name, started_at)
                    next_beat = time.monotonic() + HEARTBEAT_SECONDS
        finally:
            # Also on cancellation (Ctrl-C): let the workers finish their shutdown while
            # the app (its connection pool) is still open.
            for worker in workers:
                if not worker.done():
                    worker.cancel()
            for worker in workers:
                with suppress(asyncio.CancelledError, Exception):
                    await worker
        if stop.is_set():
            with suppress(Exception):
                await asyncio.to_thread(_forget_heartbeat, factory, name)
        for worker in workers:
            if worker.done() and not worker.cancelled() and worker.exception() is not None:
                raise worker.exception()  # type: ignore[misc]  # a worker that crashed raises here
        if not stop.is_set():
            raise RuntimeError("a procrastinate worker stopped by itself")


def _forget_heartbeat(factory: sessionmaker[Session], name: str) -> None:
    with factory.begin() as session:
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == name))


def start_worker_thread(
    factory: sessionmaker[Session],
    poll_seconds: float = 1.0,
    settings: Settings | None = None,
    groups: tuple[QueueGroup, ...] | None = None,
) -> tuple[threading.Thread, threading.Event]:
    """Run the worker in a daemon thread (tests, embedded use); set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker,
        args=(factory, stop, poll_seconds, settings, groups),
        name="polis-worker",
        daemon=True,
    )
    thread.start()
    return thread, stop
