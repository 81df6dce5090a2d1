"""The hash-chained log of administrative actions: who, when, what changed.

One chain for the whole installation (units, people, positions, substitutions, revocations,
imports), hashed exactly like a case's audit log (engine.workflow.audit.event_hash) with a
fixed chain id in the case's place. Appends take a transaction-scoped advisory lock so two
administrators never write the same sequence number; rows are never updated or deleted.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import utcnow
from core.orm import Base
from engine.workflow.audit import event_hash

#: Stands in for the case id in the hash of every admin event (one chain, no case).
ADMIN_CHAIN_ID = uuid.UUID("00000000-0000-0000-0000-00000000ad31")
#: pg_advisory_xact_lock key serialising appends to the chain.
_CHAIN_LOCK = 0x506F6C6973AD  # "Polis" + AD
#: Who acts when the command line does something without naming a user.
OPERATOR = "operator (polis command)"


class AdminEvent(Base):
    """One administrative action in the append-only, hash-chained admin log."""

    __tablename__ = "admin_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class AdminActor:
    """Who performs an administrative action (a signed-in admin, or the operator at the CLI)."""

    id: uuid.UUID | None
    name: str


CLI_OPERATOR = AdminActor(None, OPERATOR)


def record_admin_event(
    session: Session, actor: AdminActor, action: str, details: dict[str, Any]
) -> AdminEvent:
    """Append one event to the admin chain (in the caller's transaction)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    last = session.execute(
        select(AdminEvent.seq, AdminEvent.hash).order_by(AdminEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, "")
    at = utcnow()
    clean = json.loads(json.dumps(details, default=str))  # what JSONB will give back
    digest = event_hash(prev, ADMIN_CHAIN_ID, seq, at, actor.id, actor.name, action, None, clean)
    event = AdminEvent(
        seq=seq,
        at=at,
        actor_id=actor.id,
        actor=actor.name,
        action=action,
        details=clean,
        prev_hash=prev,
        hash=digest,
    )
    session.add(event)
    session.flush()
    return event


def verify_admin_chain(session: Session) -> list[str]:
    """Recompute the admin chain; one message per edited, deleted or reordered event."""
    problems: list[str] = []
    prev, expected = "", 1
    for row in session.scalars(select(AdminEvent).order_by(AdminEvent.seq)):
        if row.seq != expected:
            problems.append(f"admin log: entry {expected} is missing (deleted)")
        recomputed = event_hash(
            prev, ADMIN_CHAIN_ID, row.seq, row.at, row.actor_id, row.actor, row.action, None, row.details
        )
        if row.prev_hash != prev or recomputed != row.hash:
            problems.append(f"admin log: entry {row.seq} ({row.action}) was altered")
        prev, expected = row.hash, row.seq + 1
    return problems


def admin_history(session: Session, limit: int = 100) -> list[AdminEvent]:
    """The newest admin events first."""
    return list(session.scalars(select(AdminEvent).order_by(AdminEvent.seq.desc()).limit(limit)))
