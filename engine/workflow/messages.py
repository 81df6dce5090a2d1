"""BPMN messages from outside (e.g. the citizen supplies a missing document).

A message names its case by correlation key (the case number). If the case is not
waiting for it yet, it is kept with an expiry and delivered as soon as the case reaches
the matching catch event; a second message with the same message id is ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import InvalidInput
from engine.workflow.errors import CaseNotFound
from engine.workflow.mailbox import MESSAGES, deliver_kept_messages
from engine.workflow.models import Case
from engine.workflow.runtime import Actor, lock_case, save_case

DEFAULT_TTL = timedelta(days=30)


def send_message(
    session: Session,
    name: str,
    correlation_key: str,
    message_id: str,
    payload: dict[str, Any],
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """Store and deliver a message; returns "delivered", "kept" or "duplicate"."""
    if not name or not message_id or not isinstance(payload, dict):
        raise InvalidInput("a message needs a name, a message id and an object payload.")
    case_id = session.scalar(select(Case.id).where(Case.number == correlation_key))
    if case_id is None:
        raise CaseNotFound(
            f"no case '{correlation_key}' to deliver message '{name}' to; check the case number."
        )
    case = lock_case(session, case_id)  # lock first, like every command
    now = utcnow()
    stored = session.execute(
        insert(MESSAGES)
        .values(
            message_id=message_id,
            name=name,
            correlation_key=correlation_key,
            payload=payload,
            received_at=now,
            expires_at=now + ttl,
            case_id=case_id,
        )
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(MESSAGES.c.id)
    ).scalar()
    if stored is None:
        return "duplicate"
    delivered = deliver_kept_messages(session, case.id, case.workflow, case.record)
    if not delivered:
        case.record("message_kept", None, message=name, message_id=message_id)
    save_case(session, case, Actor.system())
    return "delivered" if delivered else "kept"


def purge_expired_messages(session: Session, now: datetime | None = None) -> int:
    """Delete kept messages that expired before their case waited for them; return how many.

    Delivered messages stay (their message id keeps refusing duplicates); an expired one
    could never be delivered any more, so nothing is lost but the row.
    """
    purged = session.execute(
        delete(MESSAGES)
        .where(MESSAGES.c.delivered_at.is_(None), MESSAGES.c.expires_at <= (now or utcnow()))
        .returning(MESSAGES.c.id)
    )
    return len(purged.all())
