"""The hot-path SQL: one locked read and one write statement per command.

Written as plain SQL run by psycopg on the session's own connection (same transaction,
no SQLAlchemy statement and result processing, which cost more CPU than the workflow
itself), because a command's writes (case
state, task-index delta, audit rows) go out as one statement with data-modifying CTEs:
one round trip instead of four. Every part is guarded by the optimistic version check,
so a lost race writes nothing.
"""

# ruff: noqa: S608 - the SQL is assembled from constants in this module, never from input
from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, cast

from psycopg import Connection, Cursor
from psycopg.rows import namedtuple_row
from sqlalchemy.orm import Session

from engine.workflow.errors import TaskConflict

CASE_COLUMNS = (
    "c.id, c.number, c.definition_id, c.process_id, c.status, c.department_id, c.version, c.state_token, "
    # The state only when this process has no cached workflow of that very state: a hit
    # neither decompresses nor sends it (engine.workflow.cache).
    "CASE WHEN c.state_token = %(token)s::uuid THEN NULL ELSE c.state END AS state, "
    "c.audit_seq, c.audit_hash, c.milestone, c.data, "
    "(SELECT d.content_hash FROM process_definitions d WHERE d.id = c.definition_id) AS content_hash"
)
TASK_COLUMNS = (
    "task_id, case_id, process_id, bpmn_id, title, lane, department_id, role, assignee_id, priority, "
    "form_key, created_at, due_at"
)
AUDIT_COLUMNS = "case_id, seq, at, actor_id, actor, action, task_id, details, prev_hash, hash"

FETCH_STATE = "SELECT state FROM cases WHERE id = %(case_id)s"
LOCK_CASE = f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = %(case_id)s FOR UPDATE OF c"
# Locking the task row as well makes PostgreSQL re-read both rows after a wait: a task
# completed by the transaction we waited for is then simply not found.
LOCK_TASK = (
    f"SELECT {CASE_COLUMNS}, t.task_id, t.title, t.bpmn_id, t.department_id AS task_department_id, "
    "t.role, t.assignee_id, t.form_key "
    "FROM case_tasks t JOIN cases c ON c.id = t.case_id WHERE t.task_id = %(task_id)s FOR UPDATE OF c, t"
)

_DELTAS = f"""
gone AS (
    DELETE FROM case_tasks WHERE task_id = ANY(%(gone)s::uuid[]) AND EXISTS (SELECT 1 FROM written)
),
added AS (
    INSERT INTO case_tasks ({TASK_COLUMNS})
    SELECT {TASK_COLUMNS} FROM jsonb_populate_recordset(NULL::case_tasks, %(tasks)s::jsonb)
    WHERE EXISTS (SELECT 1 FROM written)
),
audit AS (
    INSERT INTO audit_events ({AUDIT_COLUMNS})
    SELECT {AUDIT_COLUMNS} FROM jsonb_populate_recordset(NULL::audit_events, %(audit)s::jsonb)
    WHERE EXISTS (SELECT 1 FROM written)
)
SELECT count(*) FROM written
"""
UPDATE_CASE = (
    """
WITH written AS (
    UPDATE cases SET state = %(state)s, state_token = %(state_token)s, status = %(status)s,
        milestone = %(milestone)s,
        department_id = %(department_id)s, data = %(data)s::jsonb, updated_at = %(now)s,
        closed_at = COALESCE(%(closed_at)s::timestamptz, closed_at), version = version + 1,
        audit_seq = %(audit_seq)s, audit_hash = %(audit_hash)s
    WHERE id = %(id)s AND version = %(version)s
    RETURNING id
),"""
    + _DELTAS
)
INSERT_CASE = (
    """
WITH written AS (
    INSERT INTO cases (id, number, tracking_code, definition_id, process_id, status, milestone,
        department_id, applicant, data, created_at, updated_at, closed_at, due_at, state, version,
        audit_seq, audit_hash, state_token)
    VALUES (%(id)s, %(number)s, %(tracking_code)s, %(definition_id)s, %(process_id)s, %(status)s,
        %(milestone)s, %(department_id)s, %(applicant)s::jsonb, %(data)s::jsonb, %(now)s, %(now)s,
        %(closed_at)s::timestamptz, %(due_at)s, %(state)s, 1, %(audit_seq)s, %(audit_hash)s,
        %(state_token)s)
    RETURNING id
),"""
    + _DELTAS
)


def _cursor(session: Session) -> Cursor[Any]:
    """A psycopg cursor on the session's connection, inside the session's transaction."""
    driver = cast(Connection[Any], session.connection().connection.driver_connection)
    return driver.cursor(row_factory=namedtuple_row)


def fetch_one(session: Session, sql: str, params: dict[str, Any]) -> Any:
    """Run a query and return its first row (attribute access), or None."""
    with _cursor(session) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _json(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"))


def _default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_case(
    session: Session,
    *,
    case_id: uuid.UUID,
    number: str,
    version: int,
    values: dict[str, Any],
    new_columns: dict[str, Any] | None,
    gone: list[uuid.UUID],
    added: list[dict[str, Any]],
    audit: list[dict[str, Any]],
) -> None:
    """Write the case row, the task-index delta and the audit rows in one statement."""
    params = {
        **values,
        "id": case_id,
        "data": _json(values["data"]),
        "gone": gone,
        "tasks": _json(added),
        "audit": _json(audit),
    }
    if new_columns is not None:
        params.update(new_columns, applicant=_json(new_columns["applicant"]))
        fetch_one(session, INSERT_CASE, params)
        return
    params["version"] = version
    if fetch_one(session, UPDATE_CASE, params)[0] != 1:
        raise TaskConflict(f"case {number} changed at the same time; reload it and try again.")


#: The procrastinate task that runs one wakeup (see engine.workflow.jobs), and its queues: timers and
#: service tasks (sealing, issuing, registering) wait on separate queues, each served by its
#: own workers, so a slow service cannot hold back a due timer. Jobs deferred before the
#: split sit on the old "engine" queue, which the timer workers still serve.
WAKEUP_QUEUE = "engine"
TIMER_QUEUE = "timers"
SERVICE_QUEUE = "services"
WAKEUP_TASK = "engine.run_wakeup"
# A procrastinate job per wakeup, deferred in the command's own transaction through
# procrastinate's SQL API: the job exists exactly when the wakeup row does.
DEFER_WAKEUPS = f"""
SELECT procrastinate_defer_jobs_v1(ARRAY(
    SELECT ROW(CASE WHEN w.kind = 'timer' THEN '{TIMER_QUEUE}' ELSE '{SERVICE_QUEUE}' END,
               '{WAKEUP_TASK}', 0, NULL, NULL,
               jsonb_build_object('wakeup_id', w.id), w.due)::procrastinate_job_to_defer_v1
    FROM unnest(%(ids)s::bigint[], %(dues)s::timestamptz[], %(kinds)s::text[]) AS w(id, due, kind)
))
"""


def defer_wakeup_jobs(session: Session, wakeups: list[tuple[int, datetime, str]]) -> None:
    """Queue a job at each wakeup's (id, due time, kind) on its kind's queue (caller's transaction)."""
    if wakeups:
        fetch_one(
            session,
            DEFER_WAKEUPS,
            {
                "ids": [w[0] for w in wakeups],
                "dues": [w[1] for w in wakeups],
                "kinds": [w[2] for w in wakeups],
            },
        )
