"""mail intake: messages of the municipal mailbox as draft registrations (or held, with a reason)

Revision ID: 0024_mail_intake
Revises: 0023_documents
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024_mail_intake"
down_revision: str | None = "0023_documents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mail_drafts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("envelope_from", sa.Text(), nullable=True),
        sa.Column("sender", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hold_reason", sa.Text(), nullable=True),
        sa.Column("raw_key", sa.Text(), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("raw_size", sa.BigInteger(), nullable=False),
        sa.Column(
            "attachments",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("document_id", sa.Uuid(), nullable=True),
        sa.Column("confirmed_by_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'held', 'registered')", name=op.f("ck_mail_drafts_status_known")
        ),
        sa.CheckConstraint(
            "(status = 'held') = (hold_reason IS NOT NULL)", name=op.f("ck_mail_drafts_held_with_reason")
        ),
        sa.CheckConstraint(
            "(status = 'registered') = (document_id IS NOT NULL)",
            name=op.f("ck_mail_drafts_registered_document"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_mail_drafts_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"], ["users.id"], name=op.f("fk_mail_drafts_confirmed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_drafts")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mail_drafts_message_id")),
    )
    op.create_index("ix_mail_drafts_status_received", "mail_drafts", ["status", "received_at"])


def downgrade() -> None:
    op.drop_table("mail_drafts")
