"""submission abuse: shared rate counters, used proof-of-work challenges, held anonymous submissions

Revision ID: 0017_submission_abuse
Revises: 0016_security_hardening
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017_submission_abuse"
down_revision: str | None = "0016_security_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("key_hmac", sa.String(length=64), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key_hmac", "window_start", name=op.f("pk_rate_counters")),
    )
    op.create_table(
        "used_challenges",
        sa.Column("signature_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("signature_sha256", name=op.f("pk_used_challenges")),
    )
    op.create_table(
        "pending_submissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", TIMESTAMP, server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("confirmed_at", TIMESTAMP, nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint("token_sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_pending_submissions_token_sha256_hex")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_pending_submissions_case_id_cases"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_submissions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_pending_submissions_token_sha256")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_pending_submissions_idempotency_key")),
    )
    op.create_index("ix_pending_submissions_expires_at", "pending_submissions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("pending_submissions")
    op.drop_table("used_challenges")
    op.drop_table("rate_counters")
