"""Who works on tasks, as the runtime sees them: a Performer protocol and a Directory the
organisation registers.

The runtime routes tasks by lane to a role in the case's unit, may pre-assign them to the
unit's head or substitute, and names people in its messages; it knows nothing more of the
organisation. The people domain registers the one Directory at start
(engine.domains.load_domains) and passes its staff records, which satisfy Performer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.orm import Session

from core.errors import ConfigurationError


class Performer(Protocol):
    """A member of staff acting on a case: the attributes the runtime reads."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def username(self) -> str: ...

    @property
    def full_name(self) -> str: ...

    @property
    def department_id(self) -> uuid.UUID | None: ...

    @property
    def roles(self) -> Sequence[str]: ...

    @property
    def is_active(self) -> bool: ...

    @property
    def acting_for_id(self) -> uuid.UUID | None:
        """The absent person this performer stands in for (a substitute), whose tasks they may work."""


class Directory(Protocol):
    """What the runtime asks the organisation."""

    def person_name(self, session: Session, person_id: uuid.UUID) -> str | None:
        """The name of a member of staff, or None if there is no such person."""

    def unit_code(self, session: Session, unit_id: uuid.UUID) -> str | None:
        """The code of an organisational unit, or None if there is no such unit."""

    def unit_by_code(self, session: Session, code: str) -> uuid.UUID | None:
        """The unit with ``code``, or None."""

    def lane_assignee(self, session: Session, unit_id: uuid.UUID, rule: str, role: str) -> uuid.UUID | None:
        """Who a lane's ``assignee`` rule (e.g. ``department_head``) names in a unit, if that
        person is active and holds the lane's ``role`` (four eyes); otherwise None."""


_registered: list[Directory] = []


def register_directory(directory: Directory) -> None:
    """Make ``directory`` the one the runtime asks (a later registration replaces it)."""
    _registered[:] = [directory]


def directory() -> Directory:
    """The registered directory; a ConfigurationError if the domains were not loaded."""
    if not _registered:
        raise ConfigurationError(
            "no organisation directory is registered; call engine.domains.load_domains() at start."
        )
    return _registered[0]
