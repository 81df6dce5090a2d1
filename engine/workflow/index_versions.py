"""A version of the task index per department and per assignee, for pages that cache what they draw.

Any change to ``case_tasks`` (a task created, completed, claimed, released, assigned,
forwarded — whatever statement makes it) appends one row per touched scope — the task's
department and its assignee, before and after — to ``task_index_changes``, from statement
triggers in the database (migration 0026), so no writer can forget it. Writers only insert: no
counter row is locked, so completions in one department never wait for each other.

The version of a scope is its compacted count (``task_index_versions``) plus its rows not yet
compacted, read in one statement (one snapshot): every committed change raises it, whatever
the order in which transactions commit, and compaction (a job every minute, one statement)
moves rows into the count without changing the sum. A page drawn after reading version *v*
shows at least everything *v* counts, so a page kept under *v* is never older than its key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import BigInteger, Column, Table, Uuid, text
from sqlalchemy.orm import Session

from core.orm import Base

changes = Table(
    "task_index_changes",
    Base.metadata,
    Column("scope", Uuid, nullable=False, index=True),
    comment="One row per department or assignee touched by a change to case_tasks (written by triggers).",
)
versions = Table(
    "task_index_versions",
    Base.metadata,
    Column("scope", Uuid, primary_key=True),
    Column("version", BigInteger, nullable=False),
    comment="Compacted counts of task_index_changes per scope.",
)

_READ = text(
    "SELECT s.scope, COALESCE((SELECT v.version FROM task_index_versions v WHERE v.scope = s.scope), 0)"
    " + (SELECT count(*) FROM task_index_changes c WHERE c.scope = s.scope) AS version"
    " FROM unnest(CAST(:scopes AS uuid[])) AS s(scope)"
)
_COMPACT = text(
    "WITH moved AS (DELETE FROM task_index_changes RETURNING scope),"
    " counted AS (INSERT INTO task_index_versions (scope, version)"
    "   SELECT scope, count(*) FROM moved GROUP BY scope"
    "   ON CONFLICT (scope) DO UPDATE SET version = task_index_versions.version + EXCLUDED.version"
    "   RETURNING 1)"
    " SELECT count(*) FROM moved"
)


def index_version(session: Session, scopes: Iterable[uuid.UUID | None]) -> tuple[tuple[str, int], ...]:
    """The versions of these departments' and assignees' task index, as one comparable value."""
    wanted = sorted({s for s in scopes if s is not None}, key=str)
    if not wanted:
        return ()
    rows = session.execute(_READ, {"scopes": wanted})
    return tuple((str(scope), int(version)) for scope, version in rows)


def note_changes(session: Session, scopes: Iterable[uuid.UUID | None]) -> None:
    """Raise these scopes' versions for a change outside ``case_tasks`` that inbox pages show
    (a saved view shared with the department), in the caller's transaction."""
    wanted = sorted({s for s in scopes if s is not None}, key=str)
    if wanted:
        session.execute(changes.insert(), [{"scope": scope} for scope in wanted])


def compact_index_changes(session: Session) -> int:
    """Fold the change rows into the per-scope counts (versions unchanged); how many were folded."""
    return int(session.execute(_COMPACT).scalar_one())
