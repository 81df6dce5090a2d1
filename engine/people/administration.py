"""What the administration pages ask for, by the names people type (usernames, unit codes).

Each function is one service call for a view: it resolves names and calls the org chart,
substitution or account services, which audit every change in the admin chain.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.settings import Settings
from engine.people.admin_audit import AdminActor
from engine.people.models import Department, Position, Substitution, User
from engine.people.orgchart import (
    assign_position,
    create_staff,
    deactivate_staff,
    find_user_by_username,
    get_unit,
)
from engine.people.staff_reset import send_staff_reset_link
from engine.people.substitutions import name_substitute


def unit_choices(session: Session) -> list[tuple[str, str]]:
    """Active units as (code, 'CODE — name') for a select box."""
    rows = session.execute(
        select(Department.code, Department.name_el)
        .where(Department.is_active.is_(True))
        .order_by(Department.code)
    )
    return [(code, f"{code} — {name}") for code, name in rows]


def enrol_staff(
    session: Session,
    *,
    username: str,
    full_name: str,
    email: str | None,
    unit_code: str | None,
    kind: str | None,
    by: AdminActor,
) -> User:
    """Create an account (no password yet) and, if given, its first position."""
    if not full_name.strip():
        raise InvalidInput("Give the person's full name.")
    user = create_staff(session, username=username, full_name=full_name, email=email, password=None, by=by)
    if unit_code and kind:
        assign_position(session, user, get_unit(session, unit_code), kind, by=by)
    return user


def deactivate_username(session: Session, username: str, by: AdminActor) -> User:
    """Deactivate the account ``username`` (refused for the only head with approvals waiting)."""
    user = find_user_by_username(session, username)
    deactivate_staff(session, user, by=by)
    return user


def add_position_by_names(
    session: Session, username: str, unit_code: str, kind: str, by: AdminActor, title: str | None = None
) -> Position:
    """Give ``username`` the position ``kind`` in ``unit_code``."""
    return assign_position(
        session,
        find_user_by_username(session, username),
        get_unit(session, unit_code),
        kind,
        by=by,
        title=title,
    )


def substitute_by_names(
    session: Session,
    *,
    unit_code: str,
    head: str,
    substitute: str,
    starts_on: date,
    ends_on: date,
    reason: str | None,
    by: AdminActor,
) -> Substitution:
    """Record a substitution named by unit code and usernames."""
    return name_substitute(
        session,
        unit=get_unit(session, unit_code),
        head=find_user_by_username(session, head),
        substitute=find_user_by_username(session, substitute),
        starts_on=starts_on,
        ends_on=ends_on,
        by=by,
        reason=reason,
    )


def send_reset_link_to(session: Session, settings: Settings, username: str, by: AdminActor) -> str:
    """Email ``username`` a link to set their password; the address it went to."""
    return send_staff_reset_link(session, settings, find_user_by_username(session, username), by=by)


def active_usernames(session: Session) -> list[tuple[str, str]]:
    """Active staff as (username, 'Full Name (username)') for a select box."""
    rows = session.execute(
        select(User.username, User.full_name).where(User.is_active.is_(True)).order_by(User.full_name)
    )
    return [(username, f"{name} ({username})") for username, name in rows]
