"""Substitutions (αναπληρώσεις): a head names a substitute for a date range.

Inside the range (Athens calendar days, both ends included) the substitute may act as head of
the unit "for" the absent head: the head's approval tasks reach them, tasks already assigned to
the head become theirs to work, and the audit log names both ("X for Y"). Outside it nothing
changes. Only a person who holds a head position may substitute (they need the head's rights),
and two substitutions of one head may not overlap.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, select
from sqlalchemy.orm import Session

from core.clock import ATHENS, utcnow
from core.errors import Conflict, InvalidInput, NotFound
from engine.people.admin_audit import AdminActor, record_admin_event
from engine.people.models import POSITION_KINDS, Department, Position, Substitution, User


class SubstitutionRefused(InvalidInput):
    """A substitution that cannot be recorded as asked."""

    code = "substitution_refused"


class SubstitutionOverlaps(Conflict):
    """Another substitution of the same head covers some of the same days."""

    code = "substitution_overlaps"


def athens_today() -> date:
    """Today's date in Athens (substitutions are whole Athens days)."""
    return utcnow().astimezone(ATHENS).date()


_KIND_ORDER = case({kind: n for n, kind in enumerate(POSITION_KINDS)}, value=Position.kind)


def current_positions(session: Session, user_id: uuid.UUID) -> list[Position]:
    """The positions a person holds now, in a stable order."""
    return list(
        session.scalars(
            select(Position)
            .where(Position.user_id == user_id, Position.ended_at.is_(None))
            # Positions taken in one transaction share started_at: then the order of the kinds.
            .order_by(Position.started_at, _KIND_ORDER, Position.id)
        )
    )


def current_positions_in_units(session: Session, user_id: uuid.UUID) -> list[tuple[Position, Department]]:
    """The positions a person holds now with their units, in :func:`current_positions`' order
    (one query: every staff request reads them)."""
    rows = session.execute(
        select(Position, Department)
        .join(Department, Department.id == Position.unit_id)
        .where(Position.user_id == user_id, Position.ended_at.is_(None))
        .order_by(Position.started_at, _KIND_ORDER, Position.id)
    )
    return [(position, unit) for position, unit in rows.all()]


def holds_head_position(session: Session, user_id: uuid.UUID) -> bool:
    """Whether the person heads some unit now (and so has a head's rights to lend)."""
    return (
        session.scalar(
            select(Position.id)
            .where(Position.user_id == user_id, Position.kind == "head", Position.ended_at.is_(None))
            .limit(1)
        )
        is not None
    )


def name_substitute(
    session: Session,
    *,
    unit: Department,
    head: User,
    substitute: User,
    starts_on: date,
    ends_on: date,
    by: AdminActor,
    reason: str | None = None,
) -> Substitution:
    """Record that ``substitute`` stands in for ``head`` of ``unit`` from ``starts_on`` to ``ends_on``."""
    if ends_on < starts_on:
        raise SubstitutionRefused(
            f"The substitution ends ({ends_on:%d/%m/%Y}) before it starts ({starts_on:%d/%m/%Y}); "
            "swap the dates.",
            reason="dates_swapped",
        )
    if head.id == substitute.id:
        raise SubstitutionRefused(
            "A head cannot substitute for themselves; name someone else.", reason="self"
        )
    if not substitute.is_active:
        raise SubstitutionRefused(
            f"{substitute.username} is deactivated and cannot substitute.",
            reason="inactive",
            substitute=substitute.username,
        )
    heads_unit = session.scalar(
        select(Position.id).where(
            Position.user_id == head.id,
            Position.unit_id == unit.id,
            Position.kind == "head",
            Position.ended_at.is_(None),
        )
    )
    if heads_unit is None:
        raise SubstitutionRefused(
            f"{head.username} is not the head of {unit.code}; name the unit's head.",
            reason="not_the_head",
            head=head.username,
            unit=unit.code,
        )
    if not holds_head_position(session, substitute.id):
        raise SubstitutionRefused(
            f"{substitute.username} holds no head position, so lacks the head's rights; "
            "give them a head position first or name another head.",
            reason="substitute_not_a_head",
            substitute=substitute.username,
        )
    overlapping = session.scalar(
        select(Substitution).where(
            Substitution.head_user_id == head.id,
            Substitution.cancelled_at.is_(None),
            and_(Substitution.starts_on <= ends_on, Substitution.ends_on >= starts_on),
        )
    )
    if overlapping is not None:
        raise SubstitutionOverlaps(
            f"{head.username} already has a substitute from {overlapping.starts_on:%d/%m/%Y} "
            f"to {overlapping.ends_on:%d/%m/%Y}; choose dates outside that range or cancel it first.",
            head=head.username,
            starts_on=f"{overlapping.starts_on:%d/%m/%Y}",
            ends_on=f"{overlapping.ends_on:%d/%m/%Y}",
        )
    row = Substitution(
        unit_id=unit.id,
        head_user_id=head.id,
        substitute_user_id=substitute.id,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
        created_by_id=by.id,
    )
    session.add(row)
    session.flush()
    record_admin_event(
        session,
        by,
        "substitution.create",
        {
            "unit": unit.code,
            "head": head.username,
            "substitute": substitute.username,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "reason": reason,
        },
    )
    return row


def cancel_substitution(session: Session, substitution_id: uuid.UUID, by: AdminActor) -> Substitution:
    """End a substitution before it runs out (kept in the history, marked cancelled)."""
    row = session.get(Substitution, substitution_id)
    if row is None:
        raise NotFound("No such substitution.")
    if row.cancelled_at is None:
        row.cancelled_at = utcnow()
        record_admin_event(session, by, "substitution.cancel", {"substitution": str(row.id)})
        session.flush()
    return row


@dataclass(frozen=True)
class ActiveSubstitution:
    """A substitution running today."""

    id: uuid.UUID
    unit_id: uuid.UUID
    head_user_id: uuid.UUID
    substitute_user_id: uuid.UUID


def active_substitutions_for(
    session: Session, substitute_id: uuid.UUID, today: date | None = None
) -> list[ActiveSubstitution]:
    """The substitutions in which this person stands in for a head today."""
    return _active(session, Substitution.substitute_user_id == substitute_id, today)


def active_substitute_of_unit(
    session: Session, unit_id: uuid.UUID, today: date | None = None
) -> uuid.UUID | None:
    """Who stands in today for the head of ``unit``, if anyone."""
    rows = _active(session, Substitution.unit_id == unit_id, today)
    return rows[0].substitute_user_id if rows else None


def _active(session: Session, condition: object, today: date | None) -> list[ActiveSubstitution]:
    day = today or athens_today()
    rows = session.execute(
        select(
            Substitution.id, Substitution.unit_id, Substitution.head_user_id, Substitution.substitute_user_id
        )
        .where(
            condition,  # type: ignore[arg-type]
            Substitution.cancelled_at.is_(None),
            Substitution.starts_on <= day,
            Substitution.ends_on >= day,
        )
        .order_by(Substitution.starts_on, Substitution.id)
    )
    return [ActiveSubstitution(r.id, r.unit_id, r.head_user_id, r.substitute_user_id) for r in rows]


def list_substitutions(session: Session, unit_id: uuid.UUID | None = None) -> list[Substitution]:
    """Substitutions, newest first (of one unit if given)."""
    query = select(Substitution).order_by(Substitution.starts_on.desc(), Substitution.id)
    if unit_id is not None:
        query = query.where(Substitution.unit_id == unit_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class SubstitutionView:
    """A substitution as the admin pages list it."""

    id: uuid.UUID
    unit_code: str
    head_name: str
    substitute_name: str
    starts_on: date
    ends_on: date
    reason: str | None
    state: str  # upcoming | running | over | cancelled


def substitution_overview(session: Session, today: date | None = None) -> list[SubstitutionView]:
    """Every substitution with names and its state today, newest first."""
    day = today or athens_today()
    names = dict(session.execute(select(User.id, User.full_name)).all())
    codes = dict(session.execute(select(Department.id, Department.code)).all())
    views = []
    for row in list_substitutions(session):
        if row.cancelled_at is not None:
            state = "cancelled"
        elif row.starts_on > day:
            state = "upcoming"
        elif row.ends_on < day:
            state = "over"
        else:
            state = "running"
        views.append(
            SubstitutionView(
                row.id,
                codes.get(row.unit_id, "?"),
                names.get(row.head_user_id, "?"),
                names.get(row.substitute_user_id, "?"),
                row.starts_on,
                row.ends_on,
                row.reason,
                state,
            )
        )
    return views
