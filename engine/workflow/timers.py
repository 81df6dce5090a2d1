"""Wakeups: BPMN timers and service tasks, run when due by the job queue (engine.workflow.jobs).

Wakeup rows (and their procrastinate jobs) are written in the same transaction as the
workflow state, so they survive restarts; firing one deletes or moves it in the
transaction that advances the case, so a timer that came due while no worker ran fires
exactly once when one starts.

Lock order is always case row first, then wakeup row (as in every command), so the
worker and people working on the same case cannot deadlock.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import utcnow
from core.errors import NotFound
from engine.workflow.case_store import defer_wakeup_jobs
from engine.workflow.models import Case, Incident, ServiceResult
from engine.workflow.runtime import WAKEUPS, Actor, OpenCase, lock_case, save_case, timer_due
from engine.workflow.service_tasks import ServiceCall, get_handler, resolve_params

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=10)
INCIDENTS = cast(Table, Incident.__table__)
RESULTS = cast(Table, ServiceResult.__table__)
CASES = cast(Table, Case.__table__)


def fire_due_wakeups_in(
    session: Session, now: datetime | None = None, limit: int = 100, current: list[int] | None = None
) -> int:
    """Run up to ``limit`` due wakeups inside ``session`` (the caller commits); return how many ran.

    ``current`` receives the id of each wakeup as it is taken, so a caller whose
    transaction failed knows which one to postpone.
    """
    ran = 0
    skipped: set[int] = set()
    while ran < limit:
        outcome = _run_one(session, now or utcnow(), skipped, current if current is not None else [])
        if outcome is None:
            break
        ran += outcome
    return ran


def _run_one(session: Session, now: datetime, skipped: set[int], current: list[int]) -> int | None:
    """Take the earliest due wakeup: 1 if it ran, 0 if skipped, None if nothing is due."""
    query = select(WAKEUPS.c.id, WAKEUPS.c.case_id).where(WAKEUPS.c.due_at <= now)
    if skipped:
        query = query.where(WAKEUPS.c.id.not_in(skipped))
    candidate = session.execute(query.order_by(WAKEUPS.c.due_at).limit(1)).first()
    if candidate is None:
        return None
    current.append(candidate.id)
    case = lock_case(session, candidate.case_id)
    wakeup = session.execute(
        select(WAKEUPS).where(WAKEUPS.c.id == candidate.id, WAKEUPS.c.due_at <= now).with_for_update()
    ).first()
    if wakeup is None:  # someone else handled it while we waited for the case lock
        skipped.add(candidate.id)
        return 0
    if wakeup.kind == "timer":
        return _fire_timer(session, case, wakeup, skipped)
    _run_service(session, case, wakeup, now)
    return 1


def _fire_timer(session: Session, case: OpenCase, wakeup: Any, skipped: set[int]) -> int:
    task = _task(case, wakeup.task_id)
    if task is None or task.state != TaskState.WAITING:  # stale: the timer is gone
        session.execute(delete(WAKEUPS).where(WAKEUPS.c.id == wakeup.id))
        return 1
    due_before = timer_due(task)
    name = task.task_spec.bpmn_name or task.task_spec.bpmn_id
    case.workflow.refresh_timers()
    if task.state == TaskState.WAITING and timer_due(task) == due_before:
        # Not due by the engine's clock yet (the row says otherwise): leave it for later.
        skipped.add(wakeup.id)
        return 0
    bpmn_id = str(task.task_spec.bpmn_id)
    try:
        # The steps after a timer (scripts, gateways, the next wakeups) may fail: the
        # savepoint takes them back and the failure is counted on the wakeup, so it is
        # retried with backoff and ends as an incident instead of failing the whole job.
        with session.begin_nested():
            case.workflow.do_engine_steps()
            case.record("timer_fired", wakeup.task_id, timer=name)
            save_case(session, case, Actor.system())
    except Exception as exc:
        _step_failed(session, case.id, wakeup, bpmn_id, "", f"{type(exc).__name__}: {exc}", utcnow())
    return 1


def _task(case: OpenCase, task_id: uuid.UUID) -> Any:
    try:
        return case.workflow.get_task_from_id(task_id)
    except TaskNotFoundException:
        return None


def _run_service(session: Session, case: OpenCase, wakeup: Any, now: datetime) -> None:
    task = _task(case, wakeup.task_id)
    if task is None or task.state != TaskState.READY:
        session.execute(delete(WAKEUPS).where(WAKEUPS.c.id == wakeup.id))
        return
    info = case.definition.tasks[task.task_spec.bpmn_id]
    result = session.scalar(
        select(RESULTS.c.result).where(RESULTS.c.case_id == case.id, RESULTS.c.task_id == task.id)
    )
    if result is None:  # a result kept by an earlier try means the handler already ran
        handler = get_handler(info.handler)
        try:
            if handler is None:
                raise LookupError(f"no service handler is registered as '{info.handler}'")
            with session.begin_nested():  # a failing handler leaves none of its writes behind
                data = dict(task.data)
                params = resolve_params(info.params, data)
                result = handler(ServiceCall(case.id, case.number, info.bpmn_id, data, session, params)) or {}
                # Kept with the handler's own writes: if the step below fails, the retry
                # reuses it, so nothing is sealed, registered or queued twice.
                session.execute(
                    insert(RESULTS).values(
                        case_id=case.id,
                        task_id=task.id,
                        handler=info.handler or "",
                        result=result,
                        created_at=now,
                    )
                )
        except Exception as exc:
            _step_failed(
                session, case.id, wakeup, info.bpmn_id, info.handler, f"{type(exc).__name__}: {exc}", now
            )
            return
    try:
        with session.begin_nested():
            # What a handler returns is business data (a protocol number, an issued
            # certificate): it goes to the case record, which tracking pages and inboxes
            # read, and on in the flow.
            task.data.update(result)
            case.data.update(result)
            task.run()
            case.workflow.do_engine_steps()
            case.record("service_completed", task.id, handler=info.handler)
            save_case(session, case, Actor.system())
            session.execute(delete(RESULTS).where(RESULTS.c.case_id == case.id, RESULTS.c.task_id == task.id))
    except Exception as exc:
        error = f"{type(exc).__name__} after the handler succeeded: {exc}"
        _step_failed(session, case.id, wakeup, info.bpmn_id, info.handler, error, now)


def _step_failed(
    session: Session,
    case_id: uuid.UUID,
    wakeup: Any,
    bpmn_id: str,
    handler: str | None,
    error: str,
    now: datetime,
) -> None:
    """Count a failed try: retry later with backoff, or after the last one open an incident."""
    attempts = wakeup.attempts + 1
    if attempts < MAX_ATTEMPTS:
        due = now + BACKOFF_BASE * 2 ** (attempts - 1)
        session.execute(
            update(WAKEUPS)
            .where(WAKEUPS.c.id == wakeup.id)
            .values(attempts=attempts, last_error=error, due_at=due)
        )
        defer_wakeup_jobs(session, [(wakeup.id, due, wakeup.kind)])
        log.warning(
            "%s %s of case %s failed (try %d of %d): %s",
            wakeup.kind,
            bpmn_id,
            case_id,
            attempts,
            MAX_ATTEMPTS,
            error,
        )
        return
    _open_incident(session, case_id, wakeup, bpmn_id, handler, error, attempts, now)


def _open_incident(
    session: Session,
    case_id: uuid.UUID,
    wakeup: Any,
    bpmn_id: str,
    handler: str | None,
    error: str,
    attempts: int,
    now: datetime,
) -> None:
    session.execute(delete(WAKEUPS).where(WAKEUPS.c.id == wakeup.id))
    session.execute(
        insert(INCIDENTS).values(
            case_id=case_id,
            task_id=wakeup.task_id,
            kind=wakeup.kind,
            bpmn_id=bpmn_id,
            handler=handler or "",
            error=error,
            attempts=attempts,
            created_at=now,
        )
    )
    log.error(
        "%s %s of case %s failed its last try; incident opened (see `polis incidents list`): %s",
        wakeup.kind,
        bpmn_id,
        case_id,
        error,
    )
    try:
        with session.begin_nested():
            # The case as stored (a failed step's changes went with its savepoint).
            case = lock_case(session, case_id)
            case.record("incident", wakeup.task_id, handler=handler, error=error, attempts=attempts)
            save_case(session, case, Actor.system())
    except Exception:  # the incident itself must not be lost with the audit line
        log.exception("case %s: the incident is open but could not be written to its audit log", case_id)


def open_incidents(session: Session) -> list[Incident]:
    """Incidents not yet retried, oldest first."""
    return list(session.scalars(select(Incident).where(Incident.resolved_at.is_(None)).order_by(Incident.id)))


#: How an incident of a domain's own kind is retried: ``retry(session, subject_id, now)``.
IncidentRetrier = Callable[[Session, uuid.UUID, datetime], None]
_incident_retriers: dict[str, IncidentRetrier] = {}


def register_incident_retrier(kind: str, retrier: IncidentRetrier) -> None:
    """Let incidents of ``kind`` (a domain's own work, e.g. ``notification``) be retried by ``retrier``."""
    _incident_retriers[kind] = retrier


def retry_incident(session: Session, incident_id: int, actor: Actor) -> None:
    """Schedule the failed service task, timer or notice again (now, with a fresh retry budget).

    A handler that had succeeded before the step after it failed is not run again: its
    kept result is used (see :func:`_run_service`).
    """
    incident = session.get(Incident, incident_id)
    if incident is None or incident.resolved_at is not None:
        raise NotFound(f"no open incident {incident_id}; list them with `polis incidents list`.")
    case = lock_case(session, incident.case_id)
    incident.resolved_at = utcnow()
    now = utcnow()
    retrier = _incident_retriers.get(incident.kind)
    if retrier is not None:  # an incident of a domain's own work (e.g. a notice)
        retrier(session, incident.task_id, now)
        case.record("incident_retried", None, incident=incident_id)
        save_case(session, case, actor)
        return
    wakeup_id = session.execute(
        insert(WAKEUPS)
        .values(case_id=case.id, task_id=incident.task_id, kind=incident.kind, due_at=now, attempts=0)
        .returning(WAKEUPS.c.id)
    ).scalar_one()
    defer_wakeup_jobs(session, [(wakeup_id, now, incident.kind)])
    case.record("incident_retried", incident.task_id, incident=incident_id)
    save_case(session, case, actor)


def run_wakeup(session: Session, wakeup_id: int, now: datetime | None = None) -> bool:
    """Run one wakeup if it is still due (the job queue calls this); False if it was not.

    A job whose wakeup is gone (already handled, case cancelled) or was moved later (a
    retry with backoff, the next cycle of a timer, each with its own job) does nothing:
    the row, not the job, decides, so every firing happens exactly once.
    """
    now = now or utcnow()
    case_id = session.scalar(select(WAKEUPS.c.case_id).where(WAKEUPS.c.id == wakeup_id))
    if case_id is None:
        return False
    case = lock_case(session, case_id)
    wakeup = session.execute(
        select(WAKEUPS).where(WAKEUPS.c.id == wakeup_id, WAKEUPS.c.due_at <= now).with_for_update()
    ).first()
    if wakeup is None:
        return False
    if wakeup.kind == "timer":
        return _fire_timer(session, case, wakeup, set()) == 1
    _run_service(session, case, wakeup, now)
    return True


def postpone_wakeup(factory: sessionmaker[Session], wakeup_id: int, exc: BaseException) -> None:
    """Push back a wakeup whose whole transaction failed, with its own new job, and log why.

    The tries count against the same budget as failures inside the step: after the last
    one the wakeup becomes an incident, so nothing retries for ever.
    """
    error = f"{type(exc).__name__}: {exc}"
    try:
        with factory.begin() as session:
            row = session.execute(select(WAKEUPS).where(WAKEUPS.c.id == wakeup_id)).first()
            if row is None:
                return
            # Case row first, then its wakeup, as everywhere; the row only, not the
            # workflow: a case whose state cannot be opened must still reach an incident.
            session.execute(select(CASES.c.id).where(CASES.c.id == row.case_id).with_for_update())
            wakeup = session.execute(
                select(WAKEUPS).where(WAKEUPS.c.id == wakeup_id).with_for_update()
            ).first()
            if wakeup is None:
                return
            if wakeup.attempts + 1 < MAX_ATTEMPTS:
                due = utcnow() + BACKOFF_BASE * 6 * 2**wakeup.attempts
                session.execute(
                    update(WAKEUPS)
                    .where(WAKEUPS.c.id == wakeup_id)
                    .values(attempts=wakeup.attempts + 1, last_error=error, due_at=due)
                )
                defer_wakeup_jobs(session, [(wakeup_id, due, wakeup.kind)])
                return
            _open_incident(
                session,
                wakeup.case_id,
                wakeup,
                _bpmn_id(session, wakeup),
                None,
                error,
                wakeup.attempts + 1,
                utcnow(),
            )
    except Exception:
        log.exception("could not postpone wakeup %s", wakeup_id)


def _bpmn_id(session: Session, wakeup: Any) -> str:
    """The BPMN id of a wakeup's task, for the incident (the case may not open: then '?')."""
    try:
        with session.begin_nested():
            task = _task(lock_case(session, wakeup.case_id), wakeup.task_id)
    except Exception:
        return "?"
    return "?" if task is None else str(task.task_spec.bpmn_id)
