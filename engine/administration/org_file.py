"""The org chart file in the administration pages: preview first, apply only what was previewed.

The preview is exactly ``polis org import --dry-run``: the changes, or every problem by line
number. A file that can be applied is kept (``org_file_previews``, by its SHA-256 and the
administrator who previewed it); confirming names that SHA-256, and only those stored bytes
are applied — never a file sent again, so nothing is applied that the administrator did not
see. The plan is made again at apply time (the database may have changed since), and refused
the same way if it now has problems. Kept files are removed once applied, or after a day.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import DateTime, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import utcnow
from core.errors import Conflict, InvalidInput
from core.orm import Base
from engine.administration.access import require_admin
from engine.people.org_import import OrgImportRefused, import_org_chart
from engine.workflow.directory import Performer

#: The largest org chart file the page accepts (a municipality of thousands fits in far less).
MAX_FILE_BYTES = 5 * 1024 * 1024


#: How long a previewed file waits for its confirmation.
KEPT_FOR = timedelta(days=1)


class OrgFilePreviewRow(Base):
    """A previewed org chart file that can be applied, waiting for its administrator's confirmation."""

    __tablename__ = "org_file_previews"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    previewed_by_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    previewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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
        raise InvalidInput("Choose the org chart file (CSV) to preview.", field="org_file")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(
            "The file is larger than 5 MB; an org chart CSV is far smaller.", field="org_file_size"
        )
    return data


def preview_org_file(session: Session, user: Performer, data: bytes) -> OrgFilePreview:
    """Plan the import of ``data`` (nothing changes); keep an applicable file for its confirmation."""
    by = require_admin(user)
    data = _checked(data)
    digest = hashlib.sha256(data).hexdigest()
    try:
        with session.begin_nested() as savepoint:
            plan = import_org_chart(session, data, by=by, dry_run=True)
            savepoint.rollback()  # a plan reads only; make sure of it
    except OrgImportRefused as refused:
        return OrgFilePreview(digest, len(data), None, problems=list(refused.problems))
    preview = OrgFilePreview(digest, len(data), plan.chart.encoding, changes=list(plan.changes))
    now = utcnow()
    session.execute(delete(OrgFilePreviewRow).where(OrgFilePreviewRow.previewed_at < now - KEPT_FOR))
    if preview.applicable:
        kept = session.get(OrgFilePreviewRow, (digest, user.id))
        if kept is None:
            session.add(
                OrgFilePreviewRow(sha256=digest, previewed_by_id=user.id, content=data, previewed_at=now)
            )
        else:
            kept.previewed_at = now
        session.flush()
    return preview


def apply_org_file(
    session: Session, user: Performer, confirmed_sha256: str, previewed_sha256: str | None
) -> OrgFilePreview:
    """Apply the file this administrator previewed last, if it is the one confirmed (audited
    as ``org.import``); ``previewed_sha256`` is the last preview's, as the page remembers it."""
    by = require_admin(user)
    confirmed = confirmed_sha256.strip().lower()
    kept = None
    if previewed_sha256 and confirmed == previewed_sha256:
        kept = session.scalar(
            select(OrgFilePreviewRow).where(
                OrgFilePreviewRow.sha256 == confirmed,
                OrgFilePreviewRow.previewed_by_id == user.id,
                OrgFilePreviewRow.previewed_at >= utcnow() - KEPT_FOR,
            )
        )
    if kept is None:
        raise PreviewMismatch(
            "This is not the file you previewed last (or the preview is over a day old); "
            "preview it again, then apply.",
            sha256=confirmed,
        )
    data = kept.content
    assert hashlib.sha256(data).hexdigest() == confirmed  # stored under its own digest
    plan = import_org_chart(session, data, by=by)
    session.delete(kept)
    session.flush()
    return OrgFilePreview(confirmed, len(data), plan.chart.encoding, changes=list(plan.changes))
