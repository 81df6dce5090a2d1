"""Who may administer: the acting person must hold the administrator role."""

from __future__ import annotations

from engine.people.admin_audit import AdminActor
from engine.people.visibility import NotAdministrator, is_admin
from engine.workflow.directory import Performer


def require_admin(user: Performer | None) -> AdminActor:
    """The administrator as the admin log names them, or NotAdministrator."""
    if user is None or not user.is_active or not is_admin(user):
        raise NotAdministrator("Only administrators may do this; act in an administrator position.")
    return AdminActor(user.id, user.full_name)


def acting_admin(user: Performer | AdminActor) -> AdminActor:
    """``require_admin`` for a signed-in person; the operator at the command line (who holds
    the server's shell, and is named in the log as such) passes an AdminActor directly."""
    if isinstance(user, AdminActor):
        return user
    return require_admin(user)
