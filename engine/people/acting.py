"""The acting staff member: a person in one of their positions (as ΙΡΙΔΑ's profiles).

A person may hold several positions (head of one unit, signatory, administrator…) and acts in
one at a time; a substitute may also act as head "for" an absent head while a substitution
runs. :class:`ActingStaff` satisfies engine.workflow.directory.Performer: its unit is the
position's unit and its roles come from the position's kind, so commands, inboxes and
visibility follow the position acted in. A person without any position acts with their own
department and roles, as before positions existed.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased

from core.errors import NotFound, PermissionDenied
from engine.people.models import POSITION_KINDS, POSITION_ROLES, Department, Position, Substitution, User
from engine.people.substitutions import active_substitutions_for, athens_today, current_positions_in_units


class PositionNotHeld(PermissionDenied):
    """The chosen position is not (or no longer) one the person may act in."""

    code = "position_not_held"


@dataclass(frozen=True)
class PositionChoice:
    """One position a person may act in now; ``key`` is what the session remembers."""

    key: str
    unit_id: uuid.UUID | None
    unit_code: str
    unit_name_el: str
    unit_name_en: str
    kind: str
    title: str | None = None
    acting_for_id: uuid.UUID | None = None
    acting_for_name: str | None = None

    def label(self, locale: str) -> str:
        """How the position switch shows it: 'Head · DHM' or 'Head · DHM (for N. S.)'."""
        unit = self.unit_name_en if locale == "en" else self.unit_name_el
        text = f"{self.title or _KIND_LABELS[self.kind][0 if locale != 'en' else 1]} · {unit}"
        if self.acting_for_name:
            text += f" ({'for' if locale == 'en' else 'αναπλ.'} {self.acting_for_name})"
        return text


_KIND_LABELS = {
    "head": ("Προϊστάμενος/η", "Head"),
    "clerk": ("Υπάλληλος", "Clerk"),
    "protocol_officer": ("Υπάλληλος πρωτοκόλλου", "Protocol officer"),
    "signatory": ("Υπογράφων", "Signatory"),
    "admin": ("Διαχειριστής", "Administrator"),
    "own": ("Ο λογαριασμός μου", "My account"),
}


@dataclass(frozen=True)
class ActingStaff:
    """A member of staff acting in one position: what the runtime and the views read."""

    user: User
    position: PositionChoice
    department_id: uuid.UUID | None
    roles: tuple[str, ...]
    choices: tuple[PositionChoice, ...] = field(default=())

    @property
    def id(self) -> uuid.UUID:
        """The person's id: tasks, claims and audit rows belong to the person."""
        return self.user.id

    @property
    def username(self) -> str:
        """The person's username."""
        return self.user.username

    @property
    def full_name(self) -> str:
        """The person's name, "X for Y" while standing in for an absent head (audited so)."""
        if self.position.acting_for_name:
            return f"{self.user.full_name} for {self.position.acting_for_name}"
        return self.user.full_name

    @property
    def is_active(self) -> bool:
        """Whether the account may act."""
        return self.user.is_active

    @property
    def email(self) -> str | None:
        """The person's email."""
        return self.user.email

    @property
    def clearance(self) -> Sequence[str]:
        """Classification marks the person is cleared for (a person's, not a position's)."""
        return self.user.clearance

    @property
    def acting_for_id(self) -> uuid.UUID | None:
        """The absent head this person stands in for, if acting as a substitute."""
        return self.position.acting_for_id

    def has_role(self, role: str) -> bool:
        """Whether the position acted in carries ``role``."""
        return role in self.roles


@functools.cache
def _account_with_positions_statement() -> Select[Any]:
    """The statement of :func:`account_with_positions`, built once (building it each time cost
    more than running it)."""
    kind_order = func.array_position(literal(list(POSITION_KINDS)), Position.kind)
    held = (
        select(
            func.coalesce(
                func.json_agg(
                    aggregate_order_by(
                        func.json_build_array(
                            Position.id,
                            Position.kind,
                            Position.title,
                            Department.id,
                            Department.code,
                            Department.name_el,
                            Department.name_en,
                        ),
                        Position.started_at,
                        kind_order,
                        Position.id,
                    )
                ),
                func.json_build_array(),
            )
        )
        .select_from(Position)
        .join(Department, Department.id == Position.unit_id)
        .where(Position.user_id == User.id, Position.ended_at.is_(None))
        .scalar_subquery()
    )
    head = aliased(User)
    standing_in = (
        select(
            func.coalesce(
                func.json_agg(
                    aggregate_order_by(
                        func.json_build_array(
                            Substitution.id,
                            Department.id,
                            Department.code,
                            Department.name_el,
                            Department.name_en,
                            head.id,
                            head.full_name,
                        ),
                        Substitution.starts_on,
                        Substitution.id,
                    )
                ),
                func.json_build_array(),
            )
        )
        .select_from(Substitution)
        .join(Department, Department.id == Substitution.unit_id)
        .join(head, head.id == Substitution.head_user_id)
        .where(
            Substitution.substitute_user_id == User.id,
            Substitution.cancelled_at.is_(None),
            Substitution.starts_on <= bindparam("day"),
            Substitution.ends_on >= bindparam("day"),
        )
        .scalar_subquery()
    )
    return select(User, held, standing_in).where(User.id == bindparam("user_id"))


def position_choices(session: Session, user: User, today: date | None = None) -> list[PositionChoice]:
    """Every position the person may act in now: their own, then running substitutions."""
    units: dict[uuid.UUID, Department | None] = {}

    def unit(unit_id: uuid.UUID) -> Department | None:
        if unit_id not in units:
            units[unit_id] = session.get(Department, unit_id)
        return units[unit_id]

    choices: list[PositionChoice] = []
    for held, held_unit in current_positions_in_units(session, user.id):
        units[held_unit.id] = held_unit
        choices.append(
            PositionChoice(
                key=str(held.id),
                unit_id=held_unit.id,
                unit_code=held_unit.code,
                unit_name_el=held_unit.name_el,
                unit_name_en=held_unit.name_en,
                kind=held.kind,
                title=held.title,
            )
        )
    for running in active_substitutions_for(session, user.id, today):
        found = unit(running.unit_id)
        head = session.get(User, running.head_user_id)
        if found is None or head is None:
            continue
        choices.append(
            PositionChoice(
                key=f"sub:{running.id}",
                unit_id=found.id,
                unit_code=found.code,
                unit_name_el=found.name_el,
                unit_name_en=found.name_en,
                kind="head",
                acting_for_id=head.id,
                acting_for_name=head.full_name,
            )
        )
    return choices


def acting_staff(
    session: Session, user: User, position_key: str | None = None, today: date | None = None
) -> ActingStaff:
    """The person acting in ``position_key`` (or in their first position when none is chosen).

    A remembered key that no longer applies (the position ended, the substitution ran out)
    falls back to the first position rather than locking the person out.
    """
    return acting_in(user, position_choices(session, user, today), position_key)


def acting_in(user: User, choices: Sequence[PositionChoice], position_key: str | None) -> ActingStaff:
    """The person acting in ``position_key`` among ``choices`` (see :func:`acting_staff`)."""
    if not choices:
        own = PositionChoice(
            key="own", unit_id=user.department_id, unit_code="", unit_name_el="", unit_name_en="", kind="own"
        )
        return ActingStaff(user, own, user.department_id, tuple(user.roles), ())
    chosen = next((c for c in choices if c.key == position_key), choices[0])
    return ActingStaff(user, chosen, chosen.unit_id, POSITION_ROLES[chosen.kind], tuple(choices))


def account_with_positions(
    session: Session, user_id: uuid.UUID | str, today: date | None = None
) -> tuple[User, list[PositionChoice]]:
    """The account and every position it may act in now, in one round trip (every staff
    request reads them), as :func:`position_choices` lists them; NotFound if no such account."""
    try:
        key = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError as exc:
        raise NotFound("No such user.") from exc
    statement = _account_with_positions_statement()
    row = session.execute(statement, {"user_id": key, "day": today or athens_today()}).one_or_none()
    if row is None:
        raise NotFound("No such user.")
    user, positions, substitutions = row
    choices = [
        PositionChoice(
            key=position_id,
            unit_id=uuid.UUID(unit_id),
            unit_code=code,
            unit_name_el=name_el,
            unit_name_en=name_en,
            kind=kind,
            title=title,
        )
        for position_id, kind, title, unit_id, code, name_el, name_en in positions
    ]
    choices += [
        PositionChoice(
            key=f"sub:{substitution_id}",
            unit_id=uuid.UUID(unit_id),
            unit_code=code,
            unit_name_el=name_el,
            unit_name_en=name_en,
            kind="head",
            acting_for_id=uuid.UUID(head_id),
            acting_for_name=head_name,
        )
        for substitution_id, unit_id, code, name_el, name_en, head_id, head_name in substitutions
    ]
    return user, choices


def switch_position(
    session: Session, user: User, position_key: str, today: date | None = None
) -> ActingStaff:
    """The person acting in the position they chose, or PositionNotHeld."""
    acting = acting_staff(session, user, position_key, today)
    if acting.position.key != position_key:
        raise PositionNotHeld("You do not hold that position (any more); choose one from the list.")
    return acting
