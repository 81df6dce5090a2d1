"""speed: a token per saved workflow state, so a process can reuse the workflow it saved

Revision ID: 0010_speed
Revises: 0007_requests
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_speed"
down_revision: str | None = "0007_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("state_token", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("cases", "state_token")
