"""portal limits: one shared limiter table (rate_counters folded into rate_limit_counters); a used
proof-of-work solution remembers the submission it served; held submissions are found by
their (lower-cased) confirmed address for My requests

Revision ID: 0027_portal_limits
Revises: 0026_incoming_exchange
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027_portal_limits"
down_revision: str | None = "0026_incoming_exchange"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    # Submission counters now live in rate_limit_counters (core.ratelimits). Their keys were
    # digested differently, so the old rows cannot be carried over: the windows in flight (an
    # hour, a day) start afresh, which frees at most one window's worth of submissions.
    op.drop_table("rate_counters")
    op.add_column("used_challenges", sa.Column("submission_key_sha256", sa.String(length=64), nullable=True))
    op.execute("UPDATE pending_submissions SET email = lower(email) WHERE email <> lower(email)")
    op.create_index("ix_pending_submissions_email", "pending_submissions", ["email"])


def downgrade() -> None:
    op.drop_index("ix_pending_submissions_email", table_name="pending_submissions")
    op.drop_column("used_challenges", "submission_key_sha256")
    op.create_table(
        "rate_counters",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("key_hmac", sa.String(length=64), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key_hmac", "window_start", name=op.f("pk_rate_counters")),
    )
