"""speed: a token per saved workflow state (a process reuses the workflow it saved); an index for purging expired messages

Revision ID: 0010_speed
Revises: 0008_tokens
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_speed"
down_revision: str | None = "0008_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("state_token", sa.Uuid(), nullable=True))
    op.create_index(
        "ix_case_messages_expires_at_waiting",
        "case_messages",
        ["expires_at"],
        postgresql_where=sa.text("delivered_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_case_messages_expires_at_waiting", table_name="case_messages")
    op.drop_column("cases", "state_token")
