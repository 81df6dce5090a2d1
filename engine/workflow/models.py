"""Engine tables: definitions, cases, the task index, audit, incidents, messages, timers.

The hot path (engine.workflow.runtime) writes these with SQLAlchemy Core through the mapped
tables; the ORM classes serve reads, the CLI and migrations.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base


class ProcessDefinition(Base):
    """One deployed version of a BPMN process: stored once per content hash."""

    __tablename__ = "process_definitions"
    __table_args__ = (
        UniqueConstraint("process_id", "version"),
        UniqueConstraint("process_id", "content_hash", name="uq_process_definitions_process_id_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    process_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(300), default="")
    original_xml: Mapped[bytes] = mapped_column(LargeBinary)
    spec_json: Mapped[str] = mapped_column(Text)
    tasks: Mapped[dict[str, Any]] = mapped_column(JSONB)
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CaseCounter(Base):
    """The last case number given out in a year; locked while numbering (gap-free)."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    """A process instance with its business record and its serialized workflow state."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_department", "status", "department_id"),
        # A department's cases whatever their status (protocol visibility: their entries).
        Index("ix_cases_department_id", "department_id"),
        # "My cases" of a signed-in citizen: the account id inside the applicant record.
        Index(
            "ix_cases_applicant_account",
            text("(applicant ->> 'applicant_id')"),
            postgresql_where=text("(applicant ->> 'applicant_id') IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    tracking_code: Mapped[str] = mapped_column(String(64), unique=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    process_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # active, completed, cancelled
    milestone: Mapped[str] = mapped_column(String(300), default="")
    department_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))
    applicant: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(Text)
    #: Random per saved state: lets a process reuse the workflow it saved (engine.workflow.cache).
    state_token: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_hash: Mapped[str] = mapped_column(String(64), default="")


class CaseTask(Base):
    """A ready human task, mirrored from the workflow in the same transaction (inboxes)."""

    __tablename__ = "case_tasks"
    __table_args__ = (
        Index("ix_case_tasks_assignee_due", "assignee_id", "due_at"),
        # Department queues and approval queues: department + role, ordered by due date.
        Index("ix_case_tasks_department_role_due", "department_id", "role", "due_at"),
        # A department's unclaimed tasks (its queue and the queue's count), read without
        # visiting the claimed ones: the queue's count stays a short index scan at a million cases.
        Index(
            "ix_case_tasks_unclaimed",
            "department_id",
            "role",
            "due_at",
            postgresql_where=text("assignee_id IS NULL"),
            postgresql_include=["case_id"],
        ),
        Index("ix_case_tasks_case_id", "case_id"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    process_id: Mapped[str] = mapped_column(String(200))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))
    role: Mapped[str] = mapped_column(String(50))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    form_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """One entry of a case's append-only, hash-chained history."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[uuid.UUID | None] = mapped_column()
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Incident(Base):
    """A service task or timer that failed its last retry; an admin retries it."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[uuid.UUID] = mapped_column()
    #: The kind of wakeup that failed (``service`` or ``timer``): a retry schedules the same.
    kind: Mapped[str] = mapped_column(String(20), default="service", server_default="service")
    bpmn_id: Mapped[str] = mapped_column(String(200))
    handler: Mapped[str] = mapped_column(String(200))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Message(Base):
    """A message for a case, kept until delivered or expired; duplicates share message_id."""

    __tablename__ = "case_messages"
    __table_args__ = (
        Index("ix_case_messages_pending", "name", "correlation_key"),
        # The purge looks only at messages still waiting (engine.workflow.messages).
        Index(
            "ix_case_messages_expires_at_waiting",
            "expires_at",
            postgresql_where=text("delivered_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    correlation_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"))


class Wakeup(Base):
    """Work due for a case at a time: a BPMN timer, or a service task to (re)try."""

    __tablename__ = "engine_wakeups"
    __table_args__ = (
        UniqueConstraint("case_id", "task_id", "kind"),
        Index("ix_engine_wakeups_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    task_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(20))  # timer, service
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ServiceResult(Base):
    """What a service task's handler returned, kept until its case step commits.

    A handler's side effects (a protocol number, a sealed PDF, queued notices) commit with
    this row even when the engine step after it fails; the retry reuses the row instead
    of running the handler again (engine.workflow.timers).
    """

    __tablename__ = "service_results"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    handler: Mapped[str] = mapped_column(String(200))
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkerHeartbeat(Base):
    """When each ``polis worker`` last showed it is alive (/healthz reads it)."""

    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    beat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TimerSchedule(Base):
    """When the next case of a process with a timer start event starts (engine.workflow.schedules).

    One row per process: deploying a new version moves the row to it, so the latest
    version starts the new cases and no occurrence fires for two versions.
    """

    __tablename__ = "timer_schedules"
    __table_args__ = (Index("ix_timer_schedules_next_due_at", "next_due_at"),)

    process_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    element_id: Mapped[str] = mapped_column(String(200))
    element_name: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(20))  # timeDate, timeDuration, timeCycle
    expression: Mapped[str] = mapped_column(String(300))
    department: Mapped[str | None] = mapped_column(String(50))
    #: Occurrences on weekends and Greek public holidays are passed over (no case).
    working_days_only: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    #: The series' first occurrence (for a cron cycle: where its search started).
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Occurrences still to come, the next one included; NULL for a cycle without end.
    remaining: Mapped[int | None] = mapped_column(Integer)
    last_fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_case_id: Mapped[uuid.UUID | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
