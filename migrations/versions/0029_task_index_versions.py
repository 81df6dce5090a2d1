"""task index versions: a change log per department and assignee, written by triggers on case_tasks;
a partial index of each department's unclaimed tasks; statistics of the cases' service codes

Pages that cache what they draw (the staff inbox) key it on these versions; see
engine/workflow/index_versions.py.

Revision ID: 0029_task_index_versions
Revises: 0028_rescued_forms
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_task_index_versions"
down_revision: str | None = "0028_rescued_forms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: One function for the three statement triggers (a trigger with transition tables may name
#: one event only); each logs the departments and assignees the statement touched, once.
FUNCTION = """
CREATE FUNCTION note_task_index_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_index_changes (scope)
        SELECT DISTINCT s FROM (SELECT department_id FROM new_rows UNION SELECT assignee_id FROM new_rows) AS t(s)
        WHERE s IS NOT NULL;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO task_index_changes (scope)
        SELECT DISTINCT s FROM (SELECT department_id FROM old_rows UNION SELECT assignee_id FROM old_rows) AS t(s)
        WHERE s IS NOT NULL;
    ELSE
        INSERT INTO task_index_changes (scope)
        SELECT DISTINCT s FROM (
            SELECT department_id FROM new_rows UNION SELECT assignee_id FROM new_rows
            UNION SELECT department_id FROM old_rows UNION SELECT assignee_id FROM old_rows
        ) AS t(s)
        WHERE s IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "task_index_changes",
        sa.Column("scope", sa.Uuid(), nullable=False),
        comment="One row per department or assignee touched by a change to case_tasks (written by triggers).",
    )
    op.create_index(op.f("ix_task_index_changes_scope"), "task_index_changes", ["scope"], unique=False)
    op.create_table(
        "task_index_versions",
        sa.Column("scope", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_task_index_versions")),
        comment="Compacted counts of task_index_changes per scope.",
    )
    op.create_index(
        "ix_case_tasks_unclaimed",
        "case_tasks",
        ["department_id", "role", "due_at"],
        unique=False,
        postgresql_where=sa.text("assignee_id IS NULL"),
        postgresql_include=["case_id"],
    )
    # The planner's estimate of "cases of one service" (the inbox's service filter): without it
    # PostgreSQL guesses 0.5% and sorts a whole department's queue instead of walking it in order.
    # Statistics, not an index: an index on cases.data would slow every case update.
    op.execute("CREATE STATISTICS cases_service_code ON ((data ->> 'service_code')) FROM cases")
    op.execute(FUNCTION)
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
        ("UPDATE", "NEW TABLE AS new_rows OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER case_tasks_changed_{event.lower()} AFTER {event} ON case_tasks"
            f" REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION note_task_index_change()"
        )


def downgrade() -> None:
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER case_tasks_changed_{event} ON case_tasks")
    op.execute("DROP FUNCTION note_task_index_change()")
    op.drop_index("ix_case_tasks_unclaimed", table_name="case_tasks")
    op.execute("DROP STATISTICS cases_service_code")
    op.drop_table("task_index_versions")
    op.drop_index(op.f("ix_task_index_changes_scope"), table_name="task_index_changes")
    op.drop_table("task_index_changes")
