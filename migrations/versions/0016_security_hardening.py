"""security hardening: shared rate-limit counters; staff session epochs

Revision ID: 0016_security_hardening
Revises: 0015_protocol_visibility
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_security_hardening"
down_revision: str | None = "0015_protocol_visibility"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_counters",
        sa.Column("bucket", sa.String(64), primary_key=True),
        sa.Column("key_digest", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("hits", sa.Integer(), nullable=False),
    )
    op.create_index("ix_rate_limit_counters_window_start", "rate_limit_counters", ["window_start"])
    # Bumped on sign-out (and by a password change or deactivation): every staff session
    # made before it ends, also a copied cookie.
    op.add_column(
        "users", sa.Column("session_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("users", "session_epoch")
    op.drop_index("ix_rate_limit_counters_window_start", table_name="rate_limit_counters")
    op.drop_table("rate_limit_counters")
