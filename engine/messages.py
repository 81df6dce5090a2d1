"""BPMN messages from outside (e.g. the citizen supplies a missing document).

A message names its case by correlation key (the case number). If the case is not
waiting for it yet, it is kept with an expiry and delivered as soon as the case reaches
the matching catch event; a second message with the same message id is ignored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from SpiffWorkflow.bpmn.util import BpmnEvent
from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from engine.errors import CaseNotFound
from engine.models import Case, Message
from engine.runtime import Actor, OpenCase, lock_case, message_definitions, save_case, utcnow

MESSAGES = cast(Table, Message.__table__)
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
    delivered = deliver_pending_messages(session, case)
    if not delivered:
        case.record("message_kept", None, message=name, message_id=message_id)
    save_case(session, case, Actor.system())
    return "delivered" if delivered else "kept"


def waiting_message_names(case: OpenCase) -> set[str]:
    """Names of the messages the case's workflow waits for right now."""
    return {
        definition.name
        for t in case.workflow.event_manager.tasks.values()
        for definition in message_definitions(t)
    }


def deliver_pending_messages(session: Session, case: OpenCase) -> int:
    """Deliver kept, unexpired messages the workflow now waits for; return how many."""
    delivered = 0
    while waiting := waiting_message_names(case):
        row = session.execute(
            select(MESSAGES.c.id, MESSAGES.c.name, MESSAGES.c.message_id, MESSAGES.c.payload)
            .where(
                MESSAGES.c.case_id == case.id,
                MESSAGES.c.delivered_at.is_(None),
                MESSAGES.c.expires_at > utcnow(),
                MESSAGES.c.name.in_(waiting),
            )
            .order_by(MESSAGES.c.id)
            .limit(1)
        ).first()
        if row is None:
            break
        catcher, definition = next(
            (t, d)
            for t in case.workflow.event_manager.tasks.values()
            for d in message_definitions(t)
            if d.name == row.name
        )
        # Camunda-style files name no message variable: the payload's fields become task
        # data (as Camunda's correlate-with-variables does); Spiff's own files may still
        # set spiffworkflow:messageVariable.
        catcher.data.update(row.payload)
        case.workflow.catch(BpmnEvent(definition, dict(row.payload)))
        case.workflow.do_engine_steps()
        session.execute(update(MESSAGES).where(MESSAGES.c.id == row.id).values(delivered_at=utcnow()))
        case.record("message_received", None, message=row.name, message_id=row.message_id)
        delivered += 1
    return delivered
