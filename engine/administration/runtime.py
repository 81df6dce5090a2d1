"""The BPMN runtime as administrators see it: deployed processes and their versions, timer
schedules and waiting timers, incidents. Pausing, resuming and retrying are audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from engine.administration.access import acting_admin, require_admin
from engine.people.admin_audit import AdminActor, record_admin_event
from engine.workflow.definitions import list_definitions
from engine.workflow.directory import Performer
from engine.workflow.models import Case, Incident, ProcessDefinition, TimerSchedule, Wakeup
from engine.workflow.runtime import Actor
from engine.workflow.schedules import list_schedules, set_paused
from engine.workflow.timers import retry_incident


@dataclass(frozen=True)
class ProcessVersion:
    """One deployed version of a process."""

    version: int
    name: str
    file_name: str
    deployed_at: datetime
    content_hash: str
    cases: int


@dataclass
class DeployedProcess:
    """A process with every deployed version, newest first."""

    process_id: str
    versions: list[ProcessVersion] = field(default_factory=list)

    @property
    def newest(self) -> ProcessVersion:
        """The version new cases start."""
        return self.versions[0]


def deployed_processes(session: Session, user: Performer) -> list[DeployedProcess]:
    """Every process with its versions and how many cases each version has."""
    require_admin(user)
    counts: dict[int, int] = dict(
        session.execute(select(Case.definition_id, func.count()).group_by(Case.definition_id)).all()
    )
    processes: dict[str, DeployedProcess] = {}
    for row in list_definitions(session):
        processes.setdefault(row.process_id, DeployedProcess(row.process_id)).versions.append(
            ProcessVersion(
                row.version, row.name, row.file_name, row.deployed_at, row.content_hash, counts.get(row.id, 0)
            )
        )
    return list(processes.values())


def deployed_process(session: Session, user: Performer, process_id: str) -> DeployedProcess:
    """One process with its versions, or NotFound."""
    for process in deployed_processes(session, user):
        if process.process_id == process_id:
            return process
    raise NotFound(f"No deployed process {process_id!r}; the processes page lists them.")


def version_diagram(session: Session, user: Performer, process_id: str, version: int) -> str:
    """The BPMN XML of one version, as it was deployed."""
    require_admin(user)
    xml = session.scalar(
        select(ProcessDefinition.original_xml).where(
            ProcessDefinition.process_id == process_id, ProcessDefinition.version == version
        )
    )
    if xml is None:
        raise NotFound(f"Process {process_id!r} has no version {version}; the process page lists them.")
    return xml.decode("utf-8")


@dataclass(frozen=True)
class ScheduleRow:
    """A timer start schedule as the page shows it."""

    schedule: TimerSchedule
    version: int


@dataclass(frozen=True)
class WaitingTimer:
    """A timer of an open case (a boundary or intermediate timer event) and when it fires."""

    wakeup_id: int
    case_id: uuid.UUID
    case_number: str
    process_id: str
    due_at: datetime
    attempts: int
    last_error: str | None


def timer_schedules(session: Session, user: Performer) -> list[ScheduleRow]:
    """Every timer start schedule, soonest first, with the version it starts."""
    require_admin(user)
    return [ScheduleRow(schedule, version) for schedule, version in list_schedules(session)]


def waiting_timers(session: Session, user: Performer, limit: int = 200) -> list[WaitingTimer]:
    """The timers cases wait on, soonest first (at most ``limit``)."""
    require_admin(user)
    rows = session.execute(
        select(Wakeup, Case.number, Case.process_id)
        .join(Case, Case.id == Wakeup.case_id)
        .where(Wakeup.kind == "timer")
        .order_by(Wakeup.due_at, Wakeup.id)
        .limit(limit)
    ).all()
    return [
        WaitingTimer(w.id, w.case_id, number, process_id, w.due_at, w.attempts, w.last_error)
        for w, number, process_id in rows
    ]


def pause_schedule(
    session: Session, user: Performer | AdminActor, process_id: str, *, paused: bool
) -> TimerSchedule:
    """Pause (no case starts) or resume (the next occurrence after now) a timer start."""
    by = acting_admin(user)
    before = session.get(TimerSchedule, process_id)
    was_paused = before.paused if before is not None else None
    schedule = set_paused(session, process_id, paused)
    if was_paused != paused:
        record_admin_event(
            session,
            by,
            "schedule.pause" if paused else "schedule.resume",
            {"process": process_id, "next_due_at": schedule.next_due_at},
        )
    return schedule


@dataclass(frozen=True)
class IncidentRow:
    """An open incident with its case."""

    incident: Incident
    case_number: str
    process_id: str


def open_incident_rows(session: Session, user: Performer) -> list[IncidentRow]:
    """Incidents not yet retried, oldest first, with their case numbers."""
    require_admin(user)
    rows = session.execute(
        select(Incident, Case.number, Case.process_id)
        .join(Case, Case.id == Incident.case_id)
        .where(Incident.resolved_at.is_(None))
        .order_by(Incident.id)
    ).all()
    return [IncidentRow(incident, number, process_id) for incident, number, process_id in rows]


def retry_open_incident(session: Session, user: Performer | AdminActor, incident_id: int) -> IncidentRow:
    """Schedule the failed step again now with a fresh retry budget (audited in both logs)."""
    by = acting_admin(user)
    retry_incident(session, incident_id, Actor(by.id, by.name))  # NotFound unless open
    incident = session.get(Incident, incident_id)
    assert incident is not None  # retry_incident found it
    case = session.get(Case, incident.case_id)
    assert case is not None  # foreign key
    record_admin_event(
        session,
        by,
        "incident.retry",
        {
            "incident": incident_id,
            "case": case.number,
            "step": incident.bpmn_id,
            "kind": incident.kind,
            "error": incident.error[:500],
        },
    )
    return IncidentRow(incident, case.number, case.process_id)
