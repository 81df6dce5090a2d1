"""Who may see a protocol entry's contents: the rule, in one place.

An entry's subject, parties (sender, recipients, copies), files and links are seen by

* the registering office (the department the registrar belonged to) and the registrar,
* the units the entry is assigned to (χρέωση, ``protocol_entry_units``) — for action or for
  information, and also after a re-assignment moved the work on,
* the people named on it (``protocol_entry_people``, e.g. the mayor on a ΠΧ letter),
* the department of the entry's case, when it belongs to one,
* administrators,

and, for the guarded marks ΕΜΠ and ΠΔ, only by those of them cleared for the mark (uncleared
staff do not find such entries at all, as before). Every other member of staff sees the number,
date and direction of the entry and that it is restricted, never its contents: the register is
public within the municipality as a sequence of numbers, not as a list of who asked for what.

The rule is one SQL condition (:func:`contents_visible_to`) so that searches can filter by it
and single reads ask the same question (:func:`may_see_entry`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from typing import Protocol

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.orm import Session

from engine.protocol.models import GUARDED_MARKS, EntryAssignment, EntryPerson, ProtocolEntry
from engine.workflow.models import Case

#: Roles that see every entry's contents (still subject to the clearance marks).
ALL_SEEING_ROLES = frozenset({"admin"})


class Viewer(Protocol):
    """Who is asking; ``engine.people.models.User`` fits."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def clearance(self) -> Sequence[str]: ...

    @property
    def roles(self) -> Sequence[str]: ...

    @property
    def department_id(self) -> uuid.UUID | None: ...


def cleared_for(classification: str | None, clearance: Collection[str]) -> bool:
    """ΕΜΠ and ΠΔ entries exist only for users cleared for that mark."""
    return classification is None or classification not in GUARDED_MARKS or classification in clearance


def listed_for(clearance: Sequence[str]) -> ColumnElement[bool]:
    """Rows the clearance lets the viewer know of: unclassified, ΠΧ, and the guarded marks it holds."""
    hidden = sorted(GUARDED_MARKS - set(clearance))
    if not hidden:
        return true()
    return or_(ProtocolEntry.classification.is_(None), ProtocolEntry.classification.not_in(hidden))


def contents_visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """Rows whose contents the viewer may see (the clearance condition is separate: listed_for)."""
    if ALL_SEEING_ROLES & set(viewer.roles):
        return true()
    mine: list[ColumnElement[bool]] = [
        ProtocolEntry.registered_by_id == viewer.id,
        exists().where(EntryPerson.entry_id == ProtocolEntry.id, EntryPerson.user_id == viewer.id),
    ]
    unit = viewer.department_id
    if unit is not None:
        mine += [
            ProtocolEntry.unit_id == unit,
            exists().where(
                EntryAssignment.entry_id == ProtocolEntry.id, EntryAssignment.department_id == unit
            ),
            exists().where(Case.id == ProtocolEntry.case_id, Case.department_id == unit),
        ]
    return or_(*mine) if mine else false()


def visible_entry_ids(session: Session, entry_ids: Iterable[uuid.UUID], viewer: Viewer) -> set[uuid.UUID]:
    """Which of these entries the viewer may see in full (one query for a page of results)."""
    wanted = list(entry_ids)
    if not wanted:
        return set()
    statement = select(ProtocolEntry.id).where(
        ProtocolEntry.id.in_(wanted), listed_for(viewer.clearance), contents_visible_to(viewer)
    )
    return set(session.scalars(statement))


def may_see_entry(session: Session, entry: ProtocolEntry, viewer: Viewer) -> bool:
    """Who may see this entry: whether ``viewer`` may read its subject, parties and files."""
    return entry.id in visible_entry_ids(session, [entry.id], viewer)


def assigned_units(session: Session, entry_id: uuid.UUID) -> list[uuid.UUID]:
    """The departments an entry is assigned to, in the order of assignment."""
    return list(
        session.scalars(
            select(EntryAssignment.department_id)
            .where(EntryAssignment.entry_id == entry_id)
            .order_by(EntryAssignment.assigned_at, EntryAssignment.department_id)
        )
    )
