"""The append-only, hash-chained audit log of each case."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.workflow.models import AuditEvent, Case


def event_hash(
    prev_hash: str,
    case_id: uuid.UUID,
    seq: int,
    at: datetime,
    actor_id: uuid.UUID | None,
    actor: str,
    action: str,
    task_id: uuid.UUID | None,
    details: dict[str, Any],
) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the event."""
    canonical = json.dumps(
        [
            prev_hash,
            str(case_id),
            seq,
            at.astimezone(UTC).isoformat(),
            str(actor_id) if actor_id else None,
            actor,
            action,
            str(task_id) if task_id else None,
            details,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def audit_values(
    case_id: uuid.UUID,
    seq: int,
    prev_hash: str,
    at: datetime,
    actor_id: uuid.UUID | None,
    actor: str,
    action: str,
    task_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values of the next audit row (the caller holds the case lock)."""
    details = json.loads(json.dumps(details or {}, default=str))  # what JSONB will give back
    digest = event_hash(prev_hash, case_id, seq, at, actor_id, actor, action, task_id, details)
    return {
        "case_id": case_id,
        "seq": seq,
        "at": at,
        "actor_id": actor_id,
        "actor": actor,
        "action": action,
        "task_id": task_id,
        "details": details,
        "prev_hash": prev_hash,
        "hash": digest,
    }


@dataclass(frozen=True)
class AuditProblem:
    """A break in one case's chain."""

    case_number: str
    seq: int
    message: str


def verify_audit(session: Session, case_id: uuid.UUID | None = None) -> list[AuditProblem]:
    """Recompute every chain; report edited, deleted or reordered rows."""
    cases = select(Case.id, Case.number, Case.audit_seq, Case.audit_hash)
    if case_id is not None:
        cases = cases.where(Case.id == case_id)
    problems: list[AuditProblem] = []
    for case in session.execute(cases):
        prev, expected_seq = "", 1
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq)
        )
        for row in rows:
            if row.seq != expected_seq:
                problems.append(
                    AuditProblem(
                        case.number,
                        expected_seq,
                        f"entry {expected_seq} is missing (deleted)",
                    )
                )
            recomputed = event_hash(
                prev,
                row.case_id,
                row.seq,
                row.at,
                row.actor_id,
                row.actor,
                row.action,
                row.task_id,
                row.details,
            )
            if row.prev_hash != prev or recomputed != row.hash:
                problems.append(
                    AuditProblem(
                        case.number,
                        row.seq,
                        f"entry {row.seq} ({row.action}) was altered",
                    )
                )
            prev, expected_seq = row.hash, row.seq + 1
        if expected_seq - 1 != case.audit_seq or prev != case.audit_hash:
            problems.append(
                AuditProblem(
                    case.number,
                    case.audit_seq,
                    "the newest entries are missing (the chain ends early)",
                )
            )
    return problems


def case_history(session: Session, case_id: uuid.UUID) -> list[AuditEvent]:
    """A case's audit events in order."""
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq))
    )
