"""The organisation as the BPMN runtime sees it (engine.workflow.directory), from our tables."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.models import Department, User

#: Lane assignee rules (processes/lanes.json) and the department column each names.
_ASSIGNEE_COLUMNS = {
    "department_head": Department.head_user_id,
    "department_substitute": Department.substitute_user_id,
}


class OrgDirectory:
    """Departments and staff, read from the ``departments`` and ``users`` tables."""

    def person_name(self, session: Session, person_id: uuid.UUID) -> str | None:
        """The member of staff's full name."""
        return session.scalar(select(User.full_name).where(User.id == person_id))

    def unit_code(self, session: Session, unit_id: uuid.UUID) -> str | None:
        """The department's code."""
        return session.scalar(select(Department.code).where(Department.id == unit_id))

    def unit_by_code(self, session: Session, code: str) -> uuid.UUID | None:
        """The department with ``code``."""
        return session.scalar(select(Department.id).where(Department.code == code))

    def lane_assignee(self, session: Session, unit_id: uuid.UUID, rule: str, role: str) -> uuid.UUID | None:
        """The department's head or substitute, as the rule says, if active and holding ``role``.

        Four eyes: a substitute who lacks the lane's role (e.g. a clerk named substitute head)
        never receives the task, nor does a disabled account; the task then waits unassigned
        in the queue of the department's holders of the role.
        """
        column = _ASSIGNEE_COLUMNS.get(rule)
        if column is None:
            return None
        person = session.scalar(
            select(User).join(Department, User.id == column).where(Department.id == unit_id)
        )
        if person is None or not person.is_active or role not in person.roles:
            return None
        return person.id
