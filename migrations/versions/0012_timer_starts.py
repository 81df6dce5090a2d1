"""timer starts: one schedule per process with a timer start event (engine.schedules)

Revision ID: 0012_timer_starts
Revises: 0011_citizen_accounts
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_timer_starts"
down_revision: str | None = "0011_citizen_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timer_schedules",
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("element_name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("expression", sa.String(length=300), nullable=False),
        sa.Column("department", sa.String(length=50), nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=True),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_case_id", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_timer_schedules_definition_id_process_definitions"),
        ),
        sa.PrimaryKeyConstraint("process_id", name=op.f("pk_timer_schedules")),
    )
    op.create_index("ix_timer_schedules_next_due_at", "timer_schedules", ["next_due_at"])


def downgrade() -> None:
    op.drop_index("ix_timer_schedules_next_due_at", table_name="timer_schedules")
    op.drop_table("timer_schedules")
