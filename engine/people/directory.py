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

    def lane_assignee(self, session: Session, unit_id: uuid.UUID, rule: str, role: str) -> uuid.UUID | None:
        """The unit's head or substitute, as the rule says, if active and holding ``role``.

        While a dated substitution of the unit's head runs, both rules answer its substitute:
        the head is away, so what would go to them (or escalate past them) goes to whoever
        stands in. Otherwise ``department_substitute`` answers the configured standing substitute.
        Four eyes: a person who lacks the lane's role (e.g. a clerk named substitute head) never
        receives the task, nor does a disabled account; it then waits in the unit's queue.
        """
        if rule not in ("department_head", "department_substitute"):
            return None
        person_id = active_substitute_of_unit(session, unit_id)
        if person_id is not None:
            return person_id  # a running substitution names only holders of a head position
        column = Department.head_user_id if rule == "department_head" else Department.substitute_user_id
        person = session.scalar(
            select(User).join(Department, User.id == column).where(Department.id == unit_id)
        )
        if person is None or not person.is_active or role not in person.roles:
            return None
        return person.id
