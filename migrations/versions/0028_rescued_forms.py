"""rescued forms: fields a member of staff posted after the session ended, kept for the next sign-in

Revision ID: 0028_rescued_forms
Revises: 0027_portal_limits
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0028_rescued_forms"
down_revision: str | None = "0027_portal_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rescued_forms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=500), nullable=False),
        sa.Column("page", sa.String(length=500), nullable=False),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_rescued_forms_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_rescued_forms_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rescued_forms")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_rescued_forms_key_hash")),
    )
    op.create_index(op.f("ix_rescued_forms_expires_at"), "rescued_forms", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rescued_forms_expires_at"), table_name="rescued_forms")
    op.drop_table("rescued_forms")
