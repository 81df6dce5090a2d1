"""Builders for protocol tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.people.accounts import create_user
from engine.people.models import Department, User
from engine.protocol.drafts import EntryDraft
from engine.protocol.models import Direction

_names = itertools.count(1)


def make_user(
    session: Session,
    *,
    roles: list[str] | None = None,
    clearance: list[str] | None = None,
    department: Department | None = None,
) -> User:
    """A member of staff (a protocol clerk unless told otherwise), flushed."""
    return create_user(
        session,
        username=f"clerk{next(_names)}",
        full_name="Μαρία Ιωάννου",
        password=None,
        roles=roles if roles is not None else ["protocol_clerk"],
        clearance=clearance or [],
        department=department,
    )


def make_department(session: Session, code: str | None = None) -> Department:
    """A department (unit) with a fresh code unless told, flushed."""
    number = next(_names)
    department = Department(code=code or f"U{number}", name_el=f"Τμήμα {number}", name_en=f"Unit {number}")
    session.add(department)
    session.flush()
    return department


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
