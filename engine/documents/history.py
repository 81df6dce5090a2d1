"""The document's history (timeline and comments): append-only rows written with each step."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.documents.errors import DocumentInvalid
from engine.documents.models import DocumentEvent

#: Longest comment, in characters.
MAX_COMMENT = 5000


class Person(Protocol):
    """Whoever acts: ``engine.people.models.User`` fits (None for the engine itself)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def full_name(self) -> str: ...


def record_event(
    session: Session, document_id: uuid.UUID, actor: Person | None, action: str, **details: Any
) -> DocumentEvent:
    """Append one event to the document's history (in the caller's transaction)."""
    event = DocumentEvent(
        document_id=document_id,
        at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor=actor.full_name if actor is not None else "system",
        action=action,
        details=details,
    )
    session.add(event)
    return event


def add_comment(session: Session, document_id: uuid.UUID, text: str, author: Person) -> DocumentEvent:
    """A comment on the document, seen by everyone who may see the document."""
    text = (text or "").strip()
    if not text or len(text) > MAX_COMMENT:
        raise DocumentInvalid(
            f"comment: write between 1 and {MAX_COMMENT} characters.", fields={"comment": "required"}
        )
    event = record_event(session, document_id, author, "comment", comment=text)
    session.flush()
    return event


def history(session: Session, document_id: uuid.UUID) -> list[DocumentEvent]:
    """The document's events, oldest first."""
    return list(
        session.scalars(
            select(DocumentEvent).where(DocumentEvent.document_id == document_id).order_by(DocumentEvent.id)
        )
    )
