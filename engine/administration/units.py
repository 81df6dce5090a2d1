"""Units edited in the administration pages: add one, rename it, move it under another parent.

A move that would put a unit inside itself (directly or through its children) is refused
naming the path, so the tree never gets a cycle.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from engine.administration.access import require_admin
from engine.people.models import UNIT_KINDS, Department
from engine.people.orgchart import get_unit, save_unit
from engine.workflow.directory import Performer


class UnitCycle(InvalidInput):
    """Moving a unit under itself or under one of the units inside it."""

    code = "unit_cycle"


class UnitCodeTaken(InvalidInput):
    """A new unit with a code another unit already has."""

    code = "unit_code_taken"


def _names(name_el: str, name_en: str) -> tuple[str, str]:
    name_el, name_en = name_el.strip(), name_en.strip()
    if not name_el or not name_en:
        raise InvalidInput("Give the unit's name in Greek and in English.", field="unit_names")
    if len(name_el) > 200 or len(name_en) > 200:
        raise InvalidInput("A unit's name has at most 200 characters.", field="unit_names_length")
    return name_el, name_en


def add_unit(
    session: Session,
    user: Performer,
    *,
    code: str,
    name_el: str,
    name_en: str,
    kind: str,
    parent_code: str | None,
    email: str | None = None,
) -> Department:
    """Create a unit under ``parent_code`` (a root when None)."""
    by = require_admin(user)
    code = code.strip().upper()
    if not code or len(code) > 32 or not code.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(
            "Give the unit a code of 1-32 letters, digits, '-' or '_' (e.g. DHM-KOIN).", field="unit_code"
        )
    if session.scalar(select(Department.id).where(Department.code == code)) is not None:
        raise UnitCodeTaken(f"A unit with the code {code} exists already; choose another code.", unit=code)
    if kind not in UNIT_KINDS:
        raise InvalidInput(
            f"Unknown unit kind {kind!r}; use one of {', '.join(UNIT_KINDS)}.", field="unit_kind"
        )
    name_el, name_en = _names(name_el, name_en)
    parent = get_unit(session, parent_code) if parent_code else None
    return save_unit(
        session,
        code=code,
        name_el=name_el,
        name_en=name_en,
        kind=kind,
        parent=parent,
        email=(email or "").strip() or None,
        by=by,
    )


def rename_unit(session: Session, user: Performer, code: str, *, name_el: str, name_en: str) -> Department:
    """Give a unit new Greek and English names (nothing else changes)."""
    by = require_admin(user)
    unit = get_unit(session, code)
    name_el, name_en = _names(name_el, name_en)
    parent = session.get(Department, unit.parent_id) if unit.parent_id else None
    return save_unit(
        session,
        code=unit.code,
        name_el=name_el,
        name_en=name_en,
        kind=unit.kind,
        parent=parent,
        email=unit.email,
        by=by,
    )


def move_unit(session: Session, user: Performer, code: str, parent_code: str | None) -> Department:
    """Put a unit under another parent (or at the top with None); a cycle is refused."""
    by = require_admin(user)
    unit = get_unit(session, code)
    parent = get_unit(session, parent_code) if parent_code else None
    if parent is not None:
        path = _path_up(session, parent)
        if unit.code in path:
            route = " → ".join(reversed(path[: path.index(unit.code) + 1]))
            raise UnitCycle(
                f"Unit {unit.code} cannot move under {parent.code}: {parent.code} is inside {unit.code} "
                f"({route}); choose a unit outside it.",
                unit=unit.code,
                parent=parent.code,
                route=route,
            )
    return save_unit(
        session,
        code=unit.code,
        name_el=unit.name_el,
        name_en=unit.name_en,
        kind=unit.kind,
        parent=parent,
        email=unit.email,
        by=by,
    )


def _path_up(session: Session, unit: Department) -> list[str]:
    """The codes from ``unit`` up to its root."""
    path: list[str] = []
    node: Department | None = unit
    while node is not None and node.code not in path:
        path.append(node.code)
        node = session.get(Department, node.parent_id) if node.parent_id else None
    return path


def unit_with_parent(session: Session, user: Performer, code: str) -> tuple[Department, Department | None]:
    """A unit and the unit above it (None at the top), for its page."""
    require_admin(user)
    unit = get_unit(session, code)
    return unit, session.get(Department, unit.parent_id) if unit.parent_id else None
