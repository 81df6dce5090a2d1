"""Builders for protocol tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.protocol.drafts import EntryDraft
from engine.protocol.models import Direction


@dataclass
class Person:
    """A stand-in for engine.org.User: what the protocol service reads of a user."""

    id: uuid.UUID = field(default_factory=uuid.uuid4)
    clearance: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=lambda: ["protocol_clerk"])


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


def fixed_clock(moment: datetime):  # type: ignore[no-untyped-def]
    """A clock frozen at one moment."""
    assert moment.tzinfo is UTC
    return lambda: moment
