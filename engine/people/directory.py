"""The organisation as the BPMN runtime sees it (engine.workflow.directory), from our tables."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.models import Department, User
from engine.people.substitutions import active_substitute_of_unit


class OrgDirectory:
    """Units and staff, read from the ``departments``, ``users`` and ``substitutions`` tables."""

    def person_name(self, session: Session, person_id: uuid.UUID) -> str | None:
        """The member of staff's full name."""
        return session.scalar(select(User.full_name).where(User.id == person_id))

    def unit_code(self, session: Session, unit_id: uuid.UUID) -> str | None:
        """The unit's code."""
        return session.scalar(select(Department.code).where(Department.id == unit_id))

    def unit_by_code(self, session: Session, code: str) -> uuid.UUID | None:
        """The unit with ``code``."""
        return session.scalar(select(Department.id).where(Department.code == code))

    def lane_assignee(self, session: Session, unit_id: uuid.UUID, rule: str) -> uuid.UUID | None:
        """The unit's head or substitute, as the rule says.

        While a dated substitution of the unit's head runs, both rules answer its substitute:
        the head is away, so what would go to them (or escalate past them) goes to whoever
        stands in. Otherwise ``department_substitute`` answers the configured standing substitute.
        """
        if rule not in ("department_head", "department_substitute"):
            return None
        standing_in = active_substitute_of_unit(session, unit_id)
        if standing_in is not None:
            return standing_in
        column = Department.head_user_id if rule == "department_head" else Department.substitute_user_id
        return session.scalar(select(column).where(Department.id == unit_id))
