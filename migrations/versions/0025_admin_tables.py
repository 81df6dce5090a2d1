"""admin: the service catalogue's switches, and org chart files previewed awaiting confirmation

Revision ID: 0025_admin_tables
Revises: 0024_mail_intake
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025_admin_tables"
down_revision: str | None = "0024_mail_intake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_switches",
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("changed_by_id", sa.Uuid(), nullable=True),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_service_switches")),
    )
    op.create_table(
        "org_file_previews",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("previewed_by_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("previewed_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "previewed_by_id", name=op.f("pk_org_file_previews")),
    )


def downgrade() -> None:
    op.drop_table("org_file_previews")
    op.drop_table("service_switches")
