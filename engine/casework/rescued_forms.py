"""Forms kept across an ended session: what a member of staff typed comes back after sign-in.

A clerk whose session expired (or was ended elsewhere) and who then submits a task form, a
comment or an approval is sent to sign in. The posted fields are kept here, on the server,
for a short while: never in the URL, never files. The row is found again through a random key
held in the browser's (signed) session cookie, and is bound at sign-in to the account that
signs in next — unless the ended session still named an account, in which case only that
account may take it. After sign-in the page that held the form is shown with the fields filled
in; nothing is submitted for the user: they check and submit again (with a fresh CSRF token).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, delete, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import utcnow
from core.orm import Base

#: How long typed fields are kept for the next sign-in.
KEEP_FOR = timedelta(minutes=30)
MAX_FIELDS = 60
MAX_VALUE_CHARS = 20_000
MAX_PATH_CHARS = 500
#: Never kept: the old session's token (a fresh one is in the re-drawn form) and passwords.
NEVER_KEPT = frozenset({"_csrf", "password", "password_again"})


class RescuedForm(Base):
    """The fields of one form posted after its session had ended, waiting for the next sign-in."""

    __tablename__ = "rescued_forms"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    #: SHA-256 of the key kept in the browser's session cookie (the key itself is not stored).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The path the form was posted to, e.g. /work/tasks/<id>/complete.
    action: Mapped[str] = mapped_column(String(MAX_PATH_CHARS))
    #: The page that shows the form, where the user lands after signing in.
    page: Mapped[str] = mapped_column(String(MAX_PATH_CHARS))
    #: Field name -> the posted values (a field may repeat, e.g. checkboxes).
    fields: Mapped[dict[str, list[str]]] = mapped_column(JSONB)
    #: Set when the ended session still named an account: only it may take the fields back.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The account that signed in next (bound at sign-in); only it sees the fields.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class KeptForm:
    """Fields to draw back into the form posted to ``action`` on ``page``."""

    action: str
    page: str
    fields: dict[str, list[str]]

    def value(self, name: str) -> str:
        """The first value posted for ``name`` ("" if none)."""
        values = self.fields.get(name) or [""]
        return values[0]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def keep_form(
    session: Session,
    *,
    action: str,
    page: str,
    fields: dict[str, list[str]],
    owner_id: uuid.UUID | None = None,
) -> str | None:
    """Keep the posted ``fields`` for the next sign-in; the key for the session cookie.

    None when there is nothing worth keeping (no typed field) or a path is unreasonably long.
    Over-long values are cut, files never arrive here (only form fields are passed), and rows
    of earlier ended sessions that nobody took back are removed on the way.
    """
    now = utcnow()
    session.execute(delete(RescuedForm).where(RescuedForm.expires_at < now))
    kept: dict[str, list[str]] = {}
    for name, values in list(fields.items())[:MAX_FIELDS]:
        if name in NEVER_KEPT or len(name) > 100:
            continue
        texts = [str(v)[:MAX_VALUE_CHARS] for v in values[:MAX_FIELDS]]
        if any(t.strip() for t in texts):
            kept[name] = texts
    if not kept or len(action) > MAX_PATH_CHARS or len(page) > MAX_PATH_CHARS:
        return None
    key = secrets.token_urlsafe(32)
    session.add(
        RescuedForm(
            key_hash=_digest(key),
            action=action,
            page=page,
            fields=kept,
            owner_id=owner_id,
            created_at=now,
            expires_at=now + KEEP_FOR,
        )
    )
    session.flush()
    return key


def bind_kept_form(session: Session, key: str, user_id: uuid.UUID) -> str | None:
    """At sign-in: give the kept fields to ``user_id``; the page to land on, or None.

    None when the key is unknown, expired, already bound, or kept for another account.
    """
    now = utcnow()
    return session.scalar(
        update(RescuedForm)
        .where(
            RescuedForm.key_hash == _digest(key),
            RescuedForm.user_id.is_(None),
            RescuedForm.expires_at >= now,
            (RescuedForm.owner_id.is_(None)) | (RescuedForm.owner_id == user_id),
        )
        .values(user_id=user_id)
        .returning(RescuedForm.page)
    )


def kept_form(session: Session, key: str, user_id: uuid.UUID, page: str) -> KeptForm | None:
    """The fields kept for ``user_id`` to draw on the page at path ``page`` (None if none,
    expired, not theirs or kept for another page)."""
    row = session.scalar(
        select(RescuedForm).where(
            RescuedForm.key_hash == _digest(key),
            RescuedForm.user_id == user_id,
            RescuedForm.expires_at >= utcnow(),
        )
    )
    if row is None or row.page.split("?", 1)[0] != page:  # the landing page may carry filters
        return None
    return KeptForm(row.action, row.page, dict(row.fields))


def discard_kept_form(session: Session, key: str, user_id: uuid.UUID, action: str) -> bool:
    """The user posted the form again: forget the kept fields. Whether there were any."""
    result = session.execute(
        delete(RescuedForm).where(
            RescuedForm.key_hash == _digest(key),
            RescuedForm.user_id == user_id,
            RescuedForm.action == action,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def field_values(kept: KeptForm | None, action: str) -> dict[str, Any]:
    """The first value of each kept field if ``kept`` belongs to the form posted to ``action``."""
    if kept is None or kept.action != action:
        return {}
    return {name: kept.value(name) for name in kept.fields}
