"""audit anchors: daily RFC 3161 anchors of every chain head; TRUNCATE and issued documents guarded

Revision ID: 0018_audit_anchors
Revises: 0017_submission_abuse
Create Date: 2026-12-05

Before this, TRUNCATE passed the row triggers of audit_events, protocol_entry_relations and
issued_document_events, and issued_documents had no guard at all. Now each refuses TRUNCATE,
and an issued document keeps what it was issued as: only its status moves, once, from valid to
revoked or superseded. (The owner role can still drop the triggers; the anchors are what shows
a rewrite then — engine/audit_anchors.py.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018_audit_anchors"
down_revision: str | None = "0017_submission_abuse"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables whose rows are never removed, and the trigger function refusing it.
NO_TRUNCATE = ("audit_events", "protocol_entry_relations", "issued_documents", "issued_document_events", "audit_anchors")

GUARDS = """
CREATE FUNCTION polis_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of % is refused: its rows are permanent', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE FUNCTION audit_anchors_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_anchors is append-only (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER audit_anchors_append_only BEFORE UPDATE OR DELETE ON audit_anchors
    FOR EACH ROW EXECUTE FUNCTION audit_anchors_append_only();
CREATE FUNCTION issued_documents_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'issued document % is permanent; revoke it instead', OLD.verification_code
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.id, NEW.verification_code, NEW.title, NEW.sha256, NEW.storage_key, NEW.issued_at, NEW.issued_by_id)
        IS DISTINCT FROM
       (OLD.id, OLD.verification_code, OLD.title, OLD.sha256, OLD.storage_key, OLD.issued_at, OLD.issued_by_id)
       OR (OLD.protocol_number IS NOT NULL AND NEW.protocol_number IS DISTINCT FROM OLD.protocol_number) THEN
        RAISE EXCEPTION 'issued document %: what was issued is immutable; issue a new document', OLD.verification_code
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status <> 'valid' AND (NEW.status, NEW.revoked_at, NEW.revoked_by_id, NEW.revocation_reason,
        NEW.superseded_by_id) IS DISTINCT FROM (OLD.status, OLD.revoked_at, OLD.revoked_by_id,
        OLD.revocation_reason, OLD.superseded_by_id) THEN
        RAISE EXCEPTION 'issued document % is already %; that is final', OLD.verification_code, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER issued_documents_guard BEFORE UPDATE OR DELETE ON issued_documents
    FOR EACH ROW EXECUTE FUNCTION issued_documents_guard();
"""


def upgrade() -> None:
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("heads", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("tsa_token", sa.LargeBinary(), nullable=False),
        sa.Column("tsa_time", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
    )
    op.execute(GUARDS)
    for table in NO_TRUNCATE:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION polis_no_truncate()"
        )


def downgrade() -> None:
    for table in NO_TRUNCATE:
        op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
    op.execute("DROP TRIGGER issued_documents_guard ON issued_documents")
    op.execute("DROP FUNCTION issued_documents_guard()")
    op.drop_table("audit_anchors")
    op.execute("DROP FUNCTION audit_anchors_append_only()")
    op.execute("DROP FUNCTION polis_no_truncate()")
