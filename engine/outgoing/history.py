"""The append-only history of an outgoing document."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.outgoing.models import OutgoingEvent
from engine.people.models import User


def record(session: Session, document_id: uuid.UUID, actor: User | None, action: str, **details: Any) -> None:
    """Add one event (who, what, details) to the document's history."""
    session.add(
        OutgoingEvent(
            document_id=document_id,
            actor_id=actor.id if actor is not None else None,
            actor=actor.full_name if actor is not None else "Polis",
            action=action,
            details={k: v for k, v in details.items() if v is not None},
        )
    )


def events(session: Session, document_id: uuid.UUID) -> list[OutgoingEvent]:
    """The document's history, oldest first."""
    return list(
        session.scalars(
            select(OutgoingEvent).where(OutgoingEvent.document_id == document_id).order_by(OutgoingEvent.id)
        )
    )
