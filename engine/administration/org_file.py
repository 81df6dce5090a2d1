"""The org chart file in the administration pages: preview first, apply only what was previewed.

The preview is exactly ``polis org import --dry-run``: the changes, or every problem by line
number. Applying takes the file again together with the SHA-256 the preview showed; a file
that differs from the previewed one in any byte is refused, so nothing is applied that the
administrator did not see. The plan is made again at apply time (the database may have
changed since), and refused the same way if it now has problems.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput
from engine.administration.access import require_admin
from engine.people.org_import import OrgImportRefused, import_org_chart
from engine.workflow.directory import Performer

#: The largest org chart file the page accepts (a municipality of thousands fits in far less).
MAX_FILE_BYTES = 5 * 1024 * 1024


class PreviewMismatch(Conflict):
    """The file sent for applying is not the one that was previewed."""

    code = "org_file_not_previewed"


@dataclass(frozen=True)
class OrgFilePreview:
    """What importing the file would do: changes, or the problems that stop it."""

    sha256: str
    size: int
    encoding: str | None
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def applicable(self) -> bool:
        """Whether the file can be applied (no problems, something to change)."""
        return not self.problems and bool(self.changes)


def _checked(data: bytes) -> bytes:
    if not data:
        raise InvalidInput("Choose the org chart file (CSV) to preview.", field="file")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput("The file is larger than 5 MB; an org chart CSV is far smaller.", field="file")
    return data


def preview_org_file(session: Session, user: Performer, data: bytes) -> OrgFilePreview:
    """Plan the import of ``data`` without changing anything."""
    require_admin(user)
    data = _checked(data)
    digest = hashlib.sha256(data).hexdigest()
    try:
        with session.begin_nested() as savepoint:
            plan = import_org_chart(session, data, by=require_admin(user), dry_run=True)
            savepoint.rollback()  # a plan reads only; make sure of it
    except OrgImportRefused as refused:
        return OrgFilePreview(digest, len(data), None, problems=list(refused.problems))
    return OrgFilePreview(digest, len(data), plan.chart.encoding, changes=list(plan.changes))


def apply_org_file(session: Session, user: Performer, data: bytes, previewed_sha256: str) -> OrgFilePreview:
    """Apply ``data`` if it is byte for byte the previewed file (audited as ``org.import``)."""
    by = require_admin(user)
    data = _checked(data)
    digest = hashlib.sha256(data).hexdigest()
    if digest != previewed_sha256.strip().lower():
        raise PreviewMismatch(
            "This is not the file you previewed (its SHA-256 differs); preview it again, then apply.",
            sha256=digest,
        )
    plan = import_org_chart(session, data, by=by)
    return OrgFilePreview(digest, len(data), plan.chart.encoding, changes=list(plan.changes))
