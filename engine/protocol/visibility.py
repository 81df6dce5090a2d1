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

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    exists,
    false,
    func,
    or_,
    select,
    true,
    union,
    union_all,
)
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


#: A viewer with at least this many entries of their own is checked row by row in searches.
SET_LIMIT = 20_000


def _own_entries(viewer: Viewer, *, distinct: bool = True) -> CompoundSelect[uuid.UUID]:
    """The ids of the entries the rule gives the viewer, each part through an index (with
    ``distinct=False`` an entry may come twice, and a LIMIT stops the scan early)."""
    mine: list[Select[uuid.UUID]] = [
        select(ProtocolEntry.id).where(ProtocolEntry.registered_by_id == viewer.id)
    ]
    unit = viewer.department_id
    if unit is not None:
        mine += [
            select(ProtocolEntry.id).where(ProtocolEntry.unit_id == unit),
            select(EntryAssignment.entry_id).where(EntryAssignment.department_id == unit),
            select(ProtocolEntry.id)
            .join(Case, Case.id == ProtocolEntry.case_id)
            .where(Case.department_id == unit),
        ]
    return union(*mine) if distinct else union_all(*mine)


def contents_filter(session: Session, viewer: Viewer) -> ColumnElement[bool]:
    """The rule of :func:`contents_visible_to`, in the form that is fast for this viewer's search.

    A full-text search walks candidates until a page is full. For a viewer who may read most
    entries (the protocol office) the per-row check passes at once; for a small unit's clerk it
    fails on almost every candidate, and the search walks everything (seconds on a large book).
    So a viewer with fewer than SET_LIMIT entries of their own gets them as a set, collected
    through indexes; the others the per-row check. Measured in bench/protocol.py.
    """
    if ALL_SEEING_ROLES & set(viewer.roles):
        return true()
    sample = _own_entries(viewer, distinct=False).limit(SET_LIMIT).subquery()
    if (session.scalar(select(func.count()).select_from(sample)) or 0) >= SET_LIMIT:
        return contents_visible_to(viewer)
    return ProtocolEntry.id.in_(_own_entries(viewer))


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
