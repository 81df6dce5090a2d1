"""citizens: applicants, email verification tokens, notification outbox

Revision ID: 0005_citizens
Revises: 0002_engine
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005_citizens"
down_revision: str | None = "0002_engine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "applicants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("preferred_channel", sa.String(length=8), server_default="email", nullable=False),
        sa.Column("preferred_locale", sa.String(length=2), server_default="el", nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("oidc_issuer", sa.String(length=500), nullable=True),
        sa.Column("oidc_subject", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_applicants_email_lower_case")),
        sa.CheckConstraint(
            "preferred_channel IN ('email', 'sms', 'both')", name=op.f("ck_applicants_preferred_channel")
        ),
        sa.CheckConstraint("preferred_locale IN ('el', 'en')", name=op.f("ck_applicants_preferred_locale")),
        sa.CheckConstraint(
            "(oidc_issuer IS NULL) = (oidc_subject IS NULL)", name=op.f("ck_applicants_oidc_pair")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applicants")),
        sa.UniqueConstraint("email", name="uq_applicants_email"),
        sa.UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_applicants_oidc_issuer_subject"),
    )
    op.create_table(
        "applicant_email_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("applicant_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["applicant_id"],
            ["applicants.id"],
            name=op.f("fk_applicant_email_tokens_applicant_id_applicants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applicant_email_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_applicant_email_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_applicant_email_tokens_applicant_id"), "applicant_email_tokens", ["applicant_id"], unique=False
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("locale", sa.String(length=2), nullable=False),
        sa.Column("template_key", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=8), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_notifications_channel")),
        sa.CheckConstraint("locale IN ('el', 'en')", name=op.f("ck_notifications_locale")),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed')", name=op.f("ck_notifications_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_case_id"), "notifications", ["case_id"], unique=False)
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_due", table_name="notifications", postgresql_where=sa.text("status = 'queued'"))
    op.drop_index(op.f("ix_notifications_case_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_applicant_email_tokens_applicant_id"), table_name="applicant_email_tokens")
    op.drop_table("applicant_email_tokens")
    op.drop_table("applicants")
