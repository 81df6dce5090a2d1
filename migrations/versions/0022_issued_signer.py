"""issued signer: an issued document records the official who signed it (name and title)

Revision ID: 0022_issued_signer
Revises: 0021_org
Create Date: 2026-12-05

Documents signed by an official (issue 19) show the signer on the public verification page,
not only the organisation's e-seal. Certificates sealed by Polis alone leave both empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_issued_signer"
down_revision: str | None = "0021_org"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("issued_documents", sa.Column("signer_name", sa.String(length=200), nullable=True))
    op.add_column("issued_documents", sa.Column("signer_title", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("issued_documents", "signer_title")
    op.drop_column("issued_documents", "signer_name")
