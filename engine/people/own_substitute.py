"""A head names their own substitute for a leave, from the staff workspace.

The same rules as an administrator's substitution (engine.people.substitutions): the
substitute must hold a head position, and two substitutions of one head may not overlap
(refused with the dates). Only the head acting in their own head position may do it —
not a substitute acting for them, and not for another unit. Audited in the admin log as
the head's own action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import PermissionDenied
from engine.people.acting import ActingStaff
from engine.people.admin_audit import AdminActor
from engine.people.models import Department, Position, Substitution, User
from engine.people.orgchart import find_user_by_username
from engine.people.substitutions import (
    SubstitutionRefused,
    SubstitutionView,
    athens_today,
    name_substitute,
    substitution_overview,
)


class NotActingAsHead(PermissionDenied):
    """Naming a substitute needs the person's own head position."""

    code = "not_acting_as_head"


@dataclass(frozen=True)
class OwnSubstitutions:
    """What the head's substitute page shows."""

    unit: Department
    candidates: list[tuple[str, str]]  # (username, full name) of people who may substitute
    substitutions: list[SubstitutionView]


def _own_head_unit(session: Session, staff: ActingStaff) -> Department:
    position = staff.position
    if position.kind != "head" or position.acting_for_id is not None or position.unit_id is None:
        raise NotActingAsHead(
            "Only a head acting in their own head position names their substitute; "
            "switch to that position first."
        )
    unit = session.get(Department, position.unit_id)
    assert unit is not None  # the position's foreign key
    return unit


def own_substitutions(session: Session, staff: ActingStaff) -> OwnSubstitutions:
    """The head's unit, who may substitute (other heads), and the head's substitutions."""
    unit = _own_head_unit(session, staff)
    candidates = session.execute(
        select(User.username, User.full_name)
        .join(Position, Position.user_id == User.id)
        .where(
            Position.kind == "head",
            Position.ended_at.is_(None),
            User.is_active.is_(True),
            User.id != staff.user.id,
        )
        .distinct()
        .order_by(User.full_name)
    ).all()
    head_ids = select(Substitution.id).where(Substitution.head_user_id == staff.user.id)
    mine = set(session.scalars(head_ids))
    return OwnSubstitutions(
        unit,
        [(username, name) for username, name in candidates],
        [view for view in substitution_overview(session) if view.id in mine],
    )


def name_own_substitute(
    session: Session,
    staff: ActingStaff,
    *,
    substitute: str,
    starts_on: date,
    ends_on: date,
    reason: str | None,
) -> Substitution:
    """Record the head's substitute for ``starts_on``–``ends_on`` (both days included)."""
    unit = _own_head_unit(session, staff)
    if starts_on < athens_today():
        raise SubstitutionRefused(
            f"The substitution starts in the past ({starts_on:%d/%m/%Y}); start it today or later.",
            reason="in_the_past",
            starts_on=f"{starts_on:%d/%m/%Y}",
        )
    return name_substitute(
        session,
        unit=unit,
        head=staff.user,
        substitute=find_user_by_username(session, substitute),
        starts_on=starts_on,
        ends_on=ends_on,
        by=AdminActor(staff.user.id, staff.user.full_name),
        reason=reason,
    )
