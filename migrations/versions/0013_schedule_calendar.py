"""schedule calendar: a timer start may pass over weekends and Greek public holidays

Revision ID: 0013_schedule_calendar
Revises: 0012_timer_starts
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_schedule_calendar"
down_revision: str | None = "0012_timer_starts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "timer_schedules",
        sa.Column("working_days_only", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("timer_schedules", "working_days_only")
