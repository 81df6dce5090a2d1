"""incoming exchange: ΚΣΗΔΕ/ΙΡΙΔΑ packages join the mailbox's drafts (channel, package details,
acknowledgement), and documents may come from the exchange

Revision ID: 0026_incoming_exchange
Revises: 0025_admin_tables
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0026_incoming_exchange"
down_revision: str | None = "0025_admin_tables"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "mail_drafts",
        sa.Column("channel", sa.String(length=16), server_default=sa.text("'email'"), nullable=False),
    )
    op.add_column(
        "mail_drafts",
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "mail_drafts", sa.Column("acknowledged_at", postgresql.TIMESTAMP(timezone=True), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_mail_drafts_channel_known"), "mail_drafts", "channel IN ('email', 'kside')"
    )
    op.drop_constraint(op.f("ck_documents_source_known"), "documents", type_="check")
    op.create_check_constraint(
        op.f("ck_documents_source_known"), "documents", "source IN ('staff', 'email', 'kside')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM mail_drafts WHERE channel = 'kside' AND document_id IS NULL")
    op.drop_constraint(op.f("ck_documents_source_known"), "documents", type_="check")
    op.create_check_constraint(op.f("ck_documents_source_known"), "documents", "source IN ('staff', 'email')")
    op.drop_constraint(op.f("ck_mail_drafts_channel_known"), "mail_drafts", type_="check")
    op.drop_column("mail_drafts", "acknowledged_at")
    op.drop_column("mail_drafts", "details")
    op.drop_column("mail_drafts", "channel")
