"""citizen accounts: emailed links say what they are for (confirm or reset a password); an index for a citizen's own cases

Revision ID: 0011_citizen_accounts
Revises: 0010_speed
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_citizen_accounts"
down_revision: str | None = "0010_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every link sent so far was an email confirmation.
    op.add_column(
        "applicant_email_tokens",
        sa.Column("purpose", sa.String(length=8), server_default="verify", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_applicant_email_tokens_purpose"), "applicant_email_tokens", "purpose IN ('verify', 'reset')"
    )
    op.create_index(
        "ix_cases_applicant_account",
        "cases",
        [sa.text("(applicant ->> 'applicant_id')")],
        postgresql_where=sa.text("(applicant ->> 'applicant_id') IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_applicant_account", table_name="cases")
    op.drop_constraint(op.f("ck_applicant_email_tokens_purpose"), "applicant_email_tokens", type_="check")
    op.drop_column("applicant_email_tokens", "purpose")
