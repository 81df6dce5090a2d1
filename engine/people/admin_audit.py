"""The hash-chained log of administrative actions: who, when, what changed.

One chain for the whole installation (units, people, positions, substitutions, revocations,
imports), hashed exactly like a case's audit log (engine.workflow.audit.event_hash) with a
fixed chain id in the case's place. The chain's head (last seq and hash) is one locked row,
as a case row holds its chain's head: appends are serialised on it, and a deleted tail is
detected. Events are never updated or deleted (a trigger refuses it).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import utcnow
from core.orm import Base
from engine.workflow.audit import event_hash

#: Stands in for the case id in the hash of every admin event (one chain, no case).
ADMIN_CHAIN_ID = uuid.UUID("00000000-0000-0000-0000-00000000ad31")
#: Who acts when the command line does something without naming a user.
OPERATOR = "operator (polis command)"


class AdminChainHead(Base):
    """The newest sequence number and hash of the admin chain (one row, id 1)."""

    __tablename__ = "admin_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


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
    # Lock the head row (created by the migration) so two administrators never share a number.
    head = session.scalars(select(AdminChainHead).where(AdminChainHead.id == 1).with_for_update()).one()
    seq, prev = head.seq + 1, head.hash
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
    head.seq, head.hash = seq, digest
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
    head = session.get(AdminChainHead, 1)
    if head is not None and (head.seq != expected - 1 or head.hash != prev):
        problems.append("admin log: the newest entries are missing (the chain ends early)")
    return problems


def admin_history(session: Session, limit: int = 100) -> list[AdminEvent]:
    """The newest admin events first."""
    return list(session.scalars(select(AdminEvent).order_by(AdminEvent.seq.desc()).limit(limit)))
