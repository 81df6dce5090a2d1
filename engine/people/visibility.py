"""Who may see what: administrators, and the cases a member of staff may open.

Staff see the cases of the unit of the position they act in, cases with a task for them (or,
while substituting, for the absent head) or their unit, and cases they worked on;
administrators see everything. Checked in the engine, never only in a page.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from core.errors import PermissionDenied
from engine.workflow.directory import Performer
from engine.workflow.errors import CaseNotFound
from engine.workflow.models import AuditEvent, Case, CaseTask


class CaseForbidden(PermissionDenied):
    """The case belongs to another department and the user has not worked on it."""

    code = "case_forbidden"


class NotAdministrator(PermissionDenied):
    """Only administrators may do this."""

    code = "admin_only"


def is_admin(user: Performer) -> bool:
    """Whether the user administers Polis."""
    return "admin" in user.roles


def check_case_visible(session: Session, user: Performer, case: Case) -> None:
    """Staff see the cases of their department, cases with a task for them, and cases they worked on."""
    if is_admin(user) or (user.department_id is not None and case.department_id == user.department_id):
        return
    involved = session.scalar(
        select(
            exists().where(
                CaseTask.case_id == case.id,
                or_(
                    CaseTask.assignee_id.in_([i for i in (user.id, user.acting_for_id) if i is not None]),
                    CaseTask.department_id == user.department_id,
                ),
            )
            | exists().where(AuditEvent.case_id == case.id, AuditEvent.actor_id == user.id)
        )
    )
    if not involved:
        raise CaseForbidden(
            f"Case {case.number} belongs to another department; ask its head to forward it if you need it."
        )


def get_case(session: Session, case_id: uuid.UUID, user: Performer) -> Case:
    """A case the user may see."""
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(f"No case {case_id}; check the link or search by number.")
    check_case_visible(session, user, case)
    return case
