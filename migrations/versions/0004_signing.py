"""signing: the registry of issued documents and its append-only events

Revision ID: 0004_signing
Revises: 0005_citizens
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_signing"
down_revision: str | None = "0005_citizens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issued_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("verification_code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("protocol_number", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="valid", nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("issued_by_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Uuid(), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("superseded_by_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('valid', 'revoked', 'superseded')", name=op.f("ck_issued_documents_status_known")
        ),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_issued_documents_sha256_hex")),
        sa.CheckConstraint(
            "(status = 'revoked') = (revoked_at IS NOT NULL)",
            name=op.f("ck_issued_documents_revoked_has_time"),
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"], ["users.id"], name=op.f("fk_issued_documents_issued_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["users.id"], name=op.f("fk_issued_documents_revoked_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"],
            ["issued_documents.id"],
            name=op.f("fk_issued_documents_superseded_by_id_issued_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_documents")),
        sa.UniqueConstraint("verification_code", name=op.f("uq_issued_documents_verification_code")),
    )
    op.create_table(
        "issued_document_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "action IN ('issued', 'revoked', 'superseded')",
            name=op.f("ck_issued_document_events_action_known"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_issued_document_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["issued_documents.id"],
            name=op.f("fk_issued_document_events_document_id_issued_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_document_events")),
    )
    op.create_index(
        op.f("ix_issued_document_events_document_id"), "issued_document_events", ["document_id"]
    )
    # History is append-only: the database itself refuses to rewrite it.
    op.execute(
        """
        CREATE FUNCTION issued_document_events_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'issued_document_events is append-only (% refused)', TG_OP;
        END;
        $$;
        CREATE TRIGGER issued_document_events_append_only
            BEFORE UPDATE OR DELETE ON issued_document_events
            FOR EACH ROW EXECUTE FUNCTION issued_document_events_append_only();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS issued_document_events_append_only ON issued_document_events")
    op.execute("DROP FUNCTION IF EXISTS issued_document_events_append_only()")
    op.drop_index(op.f("ix_issued_document_events_document_id"), table_name="issued_document_events")
    op.drop_table("issued_document_events")
    op.drop_table("issued_documents")
