"""documents: incoming documents, their χρέωση (for action / for information) and history;
named people on protocol entries

Revision ID: 0023_documents
Revises: 0022_issued_signer
Create Date: 2026-12-05

A registered ΕΙΣ entry becomes a document (its case file); each χρέωση is one assignment per
(document, unit, purpose), for action with its incoming_document case. The document's
history and the people named on an entry are append-only, like the entry's other relations.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023_documents"
down_revision: str | None = "0022_issued_signer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = """
CREATE TRIGGER protocol_entry_people_append_only BEFORE UPDATE OR DELETE ON protocol_entry_people
    FOR EACH ROW EXECUTE FUNCTION protocol_append_only();
CREATE TRIGGER protocol_entry_people_no_truncate BEFORE TRUNCATE ON protocol_entry_people
    FOR EACH STATEMENT EXECUTE FUNCTION protocol_append_only();
CREATE TRIGGER document_events_append_only BEFORE UPDATE OR DELETE ON document_events
    FOR EACH ROW EXECUTE FUNCTION protocol_append_only();
CREATE TRIGGER document_events_no_truncate BEFORE TRUNCATE ON document_events
    FOR EACH STATEMENT EXECUTE FUNCTION protocol_append_only();
"""

TZ = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "protocol_entry_people",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("added_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["protocol_entries.id"], name=op.f("fk_protocol_entry_people_entry_id_protocol_entries")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_protocol_entry_people_user_id_users")),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["users.id"], name=op.f("fk_protocol_entry_people_added_by_id_users")
        ),
        sa.PrimaryKeyConstraint("entry_id", "user_id", name=op.f("pk_protocol_entry_people")),
    )
    op.create_index("ix_protocol_entry_people_user_entry", "protocol_entry_people", ["user_id", "entry_id"])
    op.create_table(
        "documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("document_type", sa.String(length=64), nullable=False),
        sa.Column("registered_by_id", sa.Uuid(), nullable=True),
        sa.Column("unit_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=16), server_default=sa.text("'staff'"), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.CheckConstraint("source IN ('staff', 'email')", name=op.f("ck_documents_source_known")),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["protocol_entries.id"], name=op.f("fk_documents_entry_id_protocol_entries")
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_id"], ["users.id"], name=op.f("fk_documents_registered_by_id_users")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["departments.id"], name=op.f("fk_documents_unit_id_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_documents_entry_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_documents_idempotency_key")),
    )
    op.create_index("ix_documents_registered_by", "documents", ["registered_by_id", "created_at"])
    op.create_table(
        "document_assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_by_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("due_at", TZ, nullable=True),
        sa.Column("reassigned_from_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("read_at", TZ, nullable=True),
        sa.Column("read_by_id", sa.Uuid(), nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("closed_by_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("file_plan_code", sa.String(length=32), nullable=True),
        sa.Column("escalated_at", TZ, nullable=True),
        sa.CheckConstraint("purpose IN ('action', 'information')", name=op.f("ck_document_assignments_purpose_known")),
        sa.CheckConstraint(
            "state IN ('open', 'filed', 'reply', 'reassigned', 'copy')",
            name=op.f("ck_document_assignments_state_known"),
        ),
        sa.CheckConstraint(
            "(purpose = 'information') = (state = 'copy')",
            name=op.f("ck_document_assignments_copies_are_information"),
        ),
        sa.CheckConstraint(
            "(purpose = 'action') = (case_id IS NOT NULL)", name=op.f("ck_document_assignments_action_has_case")
        ),
        sa.CheckConstraint(
            "state NOT IN ('filed', 'reassigned') OR length(btrim(coalesce(reason, ''))) > 0",
            name=op.f("ck_document_assignments_closing_reason_given"),
        ),
        sa.CheckConstraint(
            "state <> 'filed' OR file_plan_code IS NOT NULL",
            name=op.f("ck_document_assignments_filed_with_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_document_assignments_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_document_assignments_department_id_departments")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_document_assignments_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"], ["users.id"], name=op.f("fk_document_assignments_assigned_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reassigned_from_id"],
            ["document_assignments.id"],
            name=op.f("fk_document_assignments_reassigned_from_id_document_assignments"),
        ),
        sa.ForeignKeyConstraint(["read_by_id"], ["users.id"], name=op.f("fk_document_assignments_read_by_id_users")),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_document_assignments_closed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_assignments")),
    )
    op.create_index(op.f("ix_document_assignments_document_id"), "document_assignments", ["document_id"])
    op.create_index(op.f("ix_document_assignments_case_id"), "document_assignments", ["case_id"])
    op.create_index(
        "uq_document_assignments_live",
        "document_assignments",
        ["document_id", "department_id", "purpose"],
        unique=True,
        postgresql_where=sa.text("state IN ('open', 'copy')"),
    )
    op.create_index(
        "ix_document_assignments_folder",
        "document_assignments",
        ["department_id", "purpose", "state", "assigned_at"],
    )
    op.create_table(
        "document_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_document_events_document_id_documents")
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_document_events_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_events")),
    )
    op.create_index("ix_document_events_document", "document_events", ["document_id", "id"])
    op.execute(APPEND_ONLY)


def downgrade() -> None:
    op.drop_table("document_events")
    op.drop_table("document_assignments")
    op.drop_table("documents")
    op.drop_table("protocol_entry_people")
