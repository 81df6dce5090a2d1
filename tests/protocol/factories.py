"""Builders for protocol tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.people.accounts import create_user
from engine.people.models import User
from engine.protocol.drafts import EntryDraft
from engine.protocol.models import Direction

_names = itertools.count(1)


def make_user(
    session: Session, *, roles: list[str] | None = None, clearance: list[str] | None = None
) -> User:
    """A member of staff (a protocol clerk unless told otherwise), flushed."""
    return create_user(
        session,
        username=f"clerk{next(_names)}",
        full_name="Μαρία Ιωάννου",
        password=None,
        roles=roles if roles is not None else ["protocol_clerk"],
        clearance=clearance or [],
    )


def draft(**overrides: Any) -> EntryDraft:
    """An outgoing document unless told otherwise."""
    values: dict[str, Any] = {"direction": Direction.OUTGOING, "subject": "Απάντηση σε αίτημα"}
    values.update(overrides)
    return EntryDraft(**values)


def incoming(**overrides: Any) -> EntryDraft:
    """An incoming document with a sender."""
    values: dict[str, Any] = {
        "direction": Direction.INCOMING,
        "subject": "Αίτηση για βεβαίωση μόνιμης κατοικίας",
        "sender": "Γεώργιος Παπαδάκης",
    }
    values.update(overrides)
    return EntryDraft(**values)


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    """A clock frozen at one moment."""
    assert moment.tzinfo is UTC
    return lambda: moment
