"""The org chart as data: units in a tree, positions held by people, and the people themselves.

Every change here is an administrative action and is written to the admin chain
(engine.people.admin_audit) in the same transaction. Nothing is deleted: units and people are
deactivated, positions are ended. ``users.department_id`` and ``users.roles`` are kept as the
person's first current position and the union of their positions' roles, for readers that
predate positions (API tokens, older tests).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import Conflict, InvalidInput, NotFound
from engine.people.accounts import hash_password
from engine.people.admin_audit import AdminActor, record_admin_event
from engine.people.models import POSITION_KINDS, POSITION_ROLES, UNIT_KINDS, Department, Position, User
from engine.people.substitutions import current_positions
from engine.workflow.models import Case, CaseTask


class OpenApprovalsNeedAHead(Conflict):
    """Deactivating the only head of a unit that still has approval tasks waiting."""

    code = "open_approvals_need_a_head"


def get_unit(session: Session, code: str) -> Department:
    """The unit with ``code``, or NotFound naming the command that lists them."""
    unit = session.scalar(select(Department).where(Department.code == code.strip()))
    if unit is None:
        raise NotFound(f"No unit {code!r}; `polis org show` lists the units.")
    return unit


def find_user_by_username(session: Session, username: str) -> User:
    """The user with ``username``, or NotFound."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"No user {username!r}; `polis users list` lists them.")
    return user


def save_unit(
    session: Session,
    *,
    code: str,
    name_el: str,
    name_en: str,
    kind: str = "department",
    parent: Department | None = None,
    email: str | None = None,
    by: AdminActor,
) -> Department:
    """Create the unit ``code`` or update its names, kind, parent and email (audited)."""
    if kind not in UNIT_KINDS:
        raise InvalidInput(f"Unknown unit kind {kind!r}; use one of {', '.join(UNIT_KINDS)}.")
    unit = session.scalar(select(Department).where(Department.code == code))
    if unit is None:
        unit = Department(code=code, name_el=name_el, name_en=name_en, kind=kind, email=email)
        unit.parent_id = parent.id if parent else None
        session.add(unit)
        session.flush()
        record_admin_event(
            session,
            by,
            "unit.create",
            {"code": code, "name_el": name_el, "parent": parent.code if parent else None},
        )
        return unit
    if parent is not None and _is_below(session, parent, unit):
        raise InvalidInput(f"Unit {code} cannot move under {parent.code}: that unit is inside it.")
    changes = _apply(
        unit,
        {
            "name_el": name_el,
            "name_en": name_en,
            "kind": kind,
            "email": email,
            "parent_id": parent.id if parent else None,
            "is_active": True,
        },
    )
    if changes:
        session.flush()
        record_admin_event(session, by, "unit.update", {"code": code, "changes": changes})
    return unit


def _is_below(session: Session, candidate: Department, ancestor: Department) -> bool:
    node: Department | None = candidate
    while node is not None:
        if node.id == ancestor.id:
            return True
        node = session.get(Department, node.parent_id) if node.parent_id else None
    return False


def _apply(row: object, values: dict[str, object]) -> dict[str, list[object]]:
    changes: dict[str, list[object]] = {}
    for name, value in values.items():
        old = getattr(row, name)
        if old != value:
            changes[name] = [old, value]
            setattr(row, name, value)
    return changes


def deactivate_unit(session: Session, unit: Department, by: AdminActor) -> None:
    """Mark a unit inactive (kept for history)."""
    if unit.is_active:
        unit.is_active = False
        session.flush()
        record_admin_event(session, by, "unit.deactivate", {"code": unit.code})


#: The longest username, full name and email address the accounts table holds.
USERNAME_MAX, FULL_NAME_MAX, EMAIL_MAX = 64, 200, 254


def _check_person(full_name: str, email: str | None) -> None:
    """A full name and an email that fit the accounts table (InvalidInput naming the field)."""
    if not 1 <= len(full_name.strip()) <= FULL_NAME_MAX:
        raise InvalidInput(f"Give the full name, at most {FULL_NAME_MAX} characters.", field="full_name")
    if email is not None and (len(email) > EMAIL_MAX or "@" not in email):
        raise InvalidInput(
            f"The email address is not valid (at most {EMAIL_MAX} characters, with an @).", field="email"
        )


def create_staff(
    session: Session,
    *,
    username: str,
    full_name: str,
    email: str | None,
    password: str | None,
    by: AdminActor,
    password_hash: str | None = None,
) -> User:
    """Add a member of staff without positions yet (audited; the password is never logged)."""
    name = username.strip().lower()
    if (
        not name
        or len(name) > USERNAME_MAX
        or not name.replace(".", "").replace("_", "").replace("-", "").isalnum()
    ):
        raise InvalidInput(
            f"Username {username[:80]!r}: use 1-{USERNAME_MAX} letters, digits, '.', '_' or '-'.",
            field="username",
        )
    _check_person(full_name, email)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise InvalidInput(f"Username {name!r} is taken; choose another.")
    user = User(
        username=name,
        full_name=full_name.strip(),
        email=email,
        password_hash=hash_password(password) if password else password_hash,
        roles=[],
        clearance=[],
    )
    session.add(user)
    session.flush()
    record_admin_event(
        session, by, "user.create", {"username": name, "full_name": user.full_name, "email": email}
    )
    return user


def update_staff(
    session: Session, user: User, *, full_name: str, email: str | None, by: AdminActor
) -> dict[str, list[object]]:
    """Update a person's name and email, reactivating them if they had left (audited)."""
    _check_person(full_name, email)
    changes = _apply(user, {"full_name": full_name, "email": email, "is_active": True})
    if changes:
        session.flush()
        record_admin_event(session, by, "user.update", {"username": user.username, "changes": changes})
    return changes


def assign_position(
    session: Session,
    user: User,
    unit: Department,
    kind: str,
    *,
    by: AdminActor,
    title: str | None = None,
    delegated_signature: bool = False,
) -> Position:
    """Give ``user`` a position in ``unit`` (an already held one is returned unchanged)."""
    if kind not in POSITION_KINDS:
        raise InvalidInput(f"Unknown position {kind!r}; use one of {', '.join(POSITION_KINDS)}.")
    held = session.scalar(
        select(Position).where(
            Position.user_id == user.id,
            Position.unit_id == unit.id,
            Position.kind == kind,
            Position.ended_at.is_(None),
        )
    )
    if held is not None:
        return held
    position = Position(
        user_id=user.id, unit_id=unit.id, kind=kind, title=title, delegated_signature=delegated_signature
    )
    session.add(position)
    session.flush()
    if kind == "head" and unit.head_user_id is None:
        unit.head_user_id = user.id
    _sync_legacy_columns(session, user)
    record_admin_event(
        session,
        by,
        "position.assign",
        {"username": user.username, "unit": unit.code, "kind": kind, "title": title},
    )
    return position


def end_position(session: Session, position: Position, *, by: AdminActor) -> None:
    """End a position (kept in the history)."""
    if position.ended_at is not None:
        return
    user = session.get(User, position.user_id)
    unit = session.get(Department, position.unit_id)
    assert user is not None and unit is not None  # foreign keys
    if position.kind == "head":
        check_head_replacement(session, user, unit)
    position.ended_at = utcnow()
    session.flush()
    if position.kind == "head" and unit.head_user_id == user.id:
        unit.head_user_id = session.scalar(
            select(Position.user_id).where(
                Position.unit_id == unit.id, Position.kind == "head", Position.ended_at.is_(None)
            )
        )
    _sync_legacy_columns(session, user)
    record_admin_event(
        session, by, "position.end", {"username": user.username, "unit": unit.code, "kind": position.kind}
    )


def check_head_replacement(session: Session, user: User, unit: Department) -> None:
    """Refuse to remove the only head of a unit while approval tasks wait there."""
    other_heads = session.scalar(
        select(func.count())
        .select_from(Position)
        .where(
            Position.unit_id == unit.id,
            Position.kind == "head",
            Position.ended_at.is_(None),
            Position.user_id != user.id,
        )
    )
    if other_heads:
        return
    waiting = waiting_head_tasks(session, unit)
    if waiting:
        listed = "; ".join(f"{number} {title}" for number, title in waiting[:10])
        more = f" and {len(waiting) - 10} more" if len(waiting) > 10 else ""
        raise OpenApprovalsNeedAHead(
            f"{user.username} is the only head of {unit.code} and {len(waiting)} approval task(s) wait "
            f"there: {listed}{more}. Give the unit another head first "
            f"(`polis users position add USERNAME {unit.code} head`), then try again.",
            username=user.username,
            unit=unit.code,
            waiting=len(waiting),
            cases=listed + more,
            # The same list as data, for pages that say the task titles in the reader's language.
            tasks=[{"case": number, "title": title} for number, title in waiting[:10]],
            more=max(len(waiting) - 10, 0),
        )


def waiting_head_tasks(session: Session, unit: Department) -> list[tuple[str, str]]:
    """The approval tasks waiting for the head of ``unit``: (case number, task title)."""
    rows = session.execute(
        select(Case.number, CaseTask.title)
        .join(Case, Case.id == CaseTask.case_id)
        .where(CaseTask.department_id == unit.id, CaseTask.role == "head")
        .order_by(Case.number)
    ).all()
    return [(number, title) for number, title in rows]


def deactivate_staff(session: Session, user: User, *, by: AdminActor) -> None:
    """Deactivate a person (never deleted): their positions end, they can no longer sign in.

    Refused while they are the only head of a unit with approval tasks waiting, naming them.
    """
    positions = current_positions(session, user.id)
    for position in positions:
        if position.kind == "head":
            unit = session.get(Department, position.unit_id)
            assert unit is not None
            check_head_replacement(session, user, unit)
    for position in positions:
        end_position(session, position, by=by)
    if user.is_active:
        user.is_active = False
        session.flush()
        record_admin_event(session, by, "user.deactivate", {"username": user.username})


def set_staff_password(session: Session, user: User, password: str, *, by: AdminActor) -> None:
    """Set a new password (audited without the password)."""
    user.password_hash = hash_password(password)
    session.flush()
    record_admin_event(session, by, "user.set_password", {"username": user.username})


def _sync_legacy_columns(session: Session, user: User) -> None:
    positions = current_positions(session, user.id)
    if not positions:
        return
    roles: list[str] = []
    for position in positions:
        roles.extend(r for r in POSITION_ROLES[position.kind] if r not in roles)
    user.roles = roles
    user.department_id = positions[0].unit_id
    session.flush()


@dataclass
class UnitNode:
    """A unit in the tree with the people in its positions."""

    unit: Department
    positions: list[tuple[Position, User]] = field(default_factory=list)
    children: list[UnitNode] = field(default_factory=list)


def org_tree(session: Session, *, include_inactive: bool = False) -> list[UnitNode]:
    """The units as a forest (roots first, children by code), with current position holders."""
    query = select(Department).order_by(Department.code)
    if not include_inactive:
        query = query.where(Department.is_active.is_(True))
    nodes = {unit.id: UnitNode(unit) for unit in session.scalars(query)}
    held = session.execute(
        select(Position, User)
        .join(User, User.id == Position.user_id)
        .where(Position.ended_at.is_(None))
        .order_by(Position.kind, User.username)
    )
    for position, user in held:
        if position.unit_id in nodes:
            nodes[position.unit_id].positions.append((position, user))
    roots: list[UnitNode] = []
    for node in nodes.values():
        parent = nodes.get(node.unit.parent_id) if node.unit.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


def list_staff(session: Session, *, include_inactive: bool = True) -> list[tuple[User, list[str]]]:
    """People by username, each with their current positions as 'kind@UNIT'."""
    query = select(User).order_by(User.username)
    if not include_inactive:
        query = query.where(User.is_active.is_(True))
    codes: dict[uuid.UUID, str] = dict(session.execute(select(Department.id, Department.code)).all())
    result = []
    for user in session.scalars(query):
        held = [f"{p.kind}@{codes.get(p.unit_id, '?')}" for p in current_positions(session, user.id)]
        result.append((user, held))
    return result


def person(session: Session, user_id: uuid.UUID) -> User:
    """The user with this id, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user
