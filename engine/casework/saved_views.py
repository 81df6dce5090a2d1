"""Saved inbox views: a named set of filters, kept on the server, optionally shared with the
owner's department (everyone there sees it in their inbox and opens the same list)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import InvalidInput, NotFound, PermissionDenied
from core.orm import Base
from engine.people.models import User
from engine.workflow.index_versions import note_changes

#: The inbox arguments a view may keep; anything else is dropped when saving.
VIEW_ARGS = ("view", "sort", "service", "q", "overdue", "week")
MAX_VIEWS_PER_USER = 50


class SavedView(Base):
    """A named inbox filter of a member of staff."""

    __tablename__ = "saved_views"
    __table_args__ = (Index("ix_saved_views_department_shared", "department_id", "shared"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[dict[str, Any]] = mapped_column(JSONB)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def visible_views(session: Session, user: User) -> list[tuple[SavedView, str]]:
    """The user's own views and those shared with their department, with each owner's name."""
    condition = SavedView.owner_id == user.id
    if user.department_id is not None:
        condition = or_(
            condition, (SavedView.department_id == user.department_id) & SavedView.shared.is_(True)
        )
    rows = session.execute(
        select(SavedView, User.full_name)
        .join(User, User.id == SavedView.owner_id)
        .where(condition)
        .order_by(SavedView.name, SavedView.id)
    )
    return [(view, owner) for view, owner in rows.all()]


def save_view(session: Session, user: User, name: str, query: dict[str, Any], *, shared: bool) -> SavedView:
    """Keep the inbox filters ``query`` under ``name`` (shared with the department if asked)."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise InvalidInput("Give the view a name of 1 to 100 characters.")
    owned = session.scalar(select(func.count()).select_from(SavedView).where(SavedView.owner_id == user.id))
    if (owned or 0) >= MAX_VIEWS_PER_USER:
        raise InvalidInput(f"You have {MAX_VIEWS_PER_USER} saved views; delete one first.")
    clean = {key: str(value)[:100] for key, value in query.items() if key in VIEW_ARGS and value}
    view = SavedView(
        owner_id=user.id,
        department_id=user.department_id,
        name=name,
        query=clean,
        shared=shared and user.department_id is not None,
    )
    session.add(view)
    session.flush()
    note_changes(session, (view.department_id, view.owner_id))  # inbox pages list saved views
    return view


def delete_view(session: Session, user: User, view_id: uuid.UUID) -> None:
    """Delete one of the user's own views."""
    view = session.get(SavedView, view_id)
    if view is None:
        raise NotFound("That saved view does not exist any more.")
    if view.owner_id != user.id:
        raise PermissionDenied("Only the person who saved a view can delete it.")
    session.delete(view)
    session.flush()
    note_changes(session, (view.department_id, view.owner_id))
