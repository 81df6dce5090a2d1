"""outgoing documents: drafts with versions, recipients, σχετικά, attachments, the signature
chain by rounds, reservations, saved chains and the history

Revision ID: 0030_outgoing_documents
Revises: 0029_task_index_versions
Create Date: 2026-12-05

Versions, reservations and the history are records: append-only for everyone (triggers) and
the application's role may not even try (UPDATE/DELETE/TRUNCATE revoked).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030_outgoing_documents"
down_revision: str | None = "0029_task_index_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "polis_app"
RECORDS = ("outgoing_versions", "outgoing_reservations", "outgoing_events")


def _append_only(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION protocol_append_only();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION protocol_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {APP_ROLE};
"""


def upgrade() -> None:
    op.create_table(
        "outgoing_saved_chains",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=True),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_outgoing_saved_chains_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["departments.id"], name=op.f("fk_outgoing_saved_chains_unit_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_saved_chains")),
        sa.UniqueConstraint("unit_id", "kind", "name", name="uq_outgoing_saved_chains_name"),
    )
    op.create_table(
        "outgoing_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'draft'"), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("round", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("pending_signature", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("signed_key", sa.Text(), nullable=True),
        sa.Column("signed_sha256", sa.String(length=64), nullable=True),
        sa.Column("signed_by_id", sa.Uuid(), nullable=True),
        sa.Column("verification_code", sa.String(length=32), nullable=True),
        sa.Column("entry_id", sa.UUID(), nullable=True),
        sa.Column("final_key", sa.Text(), nullable=True),
        sa.Column("final_sha256", sa.String(length=64), nullable=True),
        sa.Column("derived_from_id", sa.Uuid(), nullable=True),
        sa.Column("derived_how", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "derived_how IS NULL OR derived_how IN ('correction', 'reply', 'forward', 'clone')",
            name=op.f("ck_outgoing_documents_derived_how_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('letter', 'decision', 'service_certificate', 'memo')",
            name=op.f("ck_outgoing_documents_kind_known"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'in_chain', 'returned', 'to_sign', 'signed', 'registered', 'sent')",
            name=op.f("ck_outgoing_documents_status_known"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('registered', 'sent') OR (entry_id IS NOT NULL AND final_key IS NOT NULL)",
            name=op.f("ck_outgoing_documents_registered_with_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_outgoing_documents_author_id_users")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_outgoing_documents_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["derived_from_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_documents_derived_from_id_outgoing_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["protocol_entries.id"],
            name=op.f("fk_outgoing_documents_entry_id_protocol_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_id"], ["users.id"], name=op.f("fk_outgoing_documents_signed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["departments.id"], name=op.f("fk_outgoing_documents_unit_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_documents")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_outgoing_documents_entry_id")),
    )
    op.create_index(
        "ix_outgoing_documents_author", "outgoing_documents", ["author_id", "status"], unique=False
    )
    op.create_table(
        "outgoing_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("added_by_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["users.id"], name=op.f("fk_outgoing_attachments_added_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_attachments_document_id_outgoing_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_attachments")),
    )
    op.create_index(
        op.f("ix_outgoing_attachments_document_id"), "outgoing_attachments", ["document_id"], unique=False
    )
    op.create_table(
        "outgoing_chain_steps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), server_default=sa.text("'waiting'"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acted_by_id", sa.Uuid(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('sign', 'opinion')", name=op.f("ck_outgoing_chain_steps_kind_known")),
        sa.CheckConstraint(
            "state <> 'returned' OR length(btrim(coalesce(comment, ''))) > 0",
            name=op.f("ck_outgoing_chain_steps_return_says_why"),
        ),
        sa.CheckConstraint(
            "state IN ('waiting', 'current', 'approved', 'returned', 'signed', 'closed')",
            name=op.f("ck_outgoing_chain_steps_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["acted_by_id"], ["users.id"], name=op.f("fk_outgoing_chain_steps_acted_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_chain_steps_document_id_outgoing_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["users.id"], name=op.f("fk_outgoing_chain_steps_person_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_chain_steps")),
        sa.UniqueConstraint("document_id", "round", "person_id", name="uq_outgoing_chain_steps_person"),
    )
    op.create_index(
        "ix_outgoing_chain_steps_document",
        "outgoing_chain_steps",
        ["document_id", "round", "stage"],
        unique=False,
    )
    op.create_index(
        "ix_outgoing_chain_steps_folder", "outgoing_chain_steps", ["person_id", "state"], unique=False
    )
    op.create_table(
        "outgoing_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_outgoing_events_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_events_document_id_outgoing_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_events")),
    )
    op.create_index("ix_outgoing_events_document", "outgoing_events", ["document_id", "id"], unique=False)
    op.create_table(
        "outgoing_recipients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("for_information", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("unit_id", sa.Uuid(), nullable=True),
        sa.Column("citizen_case_id", sa.Uuid(), nullable=True),
        sa.Column("postal_address", sa.Text(), nullable=True),
        sa.Column("delivery", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("incoming_document_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "delivery IN ('pending', 'sent', 'registered', 'published', 'to_print', 'printed', 'failed')",
            name=op.f("ck_outgoing_recipients_delivery_known"),
        ),
        sa.CheckConstraint(
            "kind <> 'citizen' OR citizen_case_id IS NOT NULL",
            name=op.f("ck_outgoing_recipients_citizen_has_case"),
        ),
        sa.CheckConstraint(
            "kind <> 'external' OR email IS NOT NULL", name=op.f("ck_outgoing_recipients_external_has_email")
        ),
        sa.CheckConstraint(
            "kind <> 'internal' OR unit_id IS NOT NULL", name=op.f("ck_outgoing_recipients_internal_has_unit")
        ),
        sa.CheckConstraint(
            "kind <> 'post' OR postal_address IS NOT NULL",
            name=op.f("ck_outgoing_recipients_post_has_address"),
        ),
        sa.CheckConstraint(
            "kind IN ('external', 'citizen', 'internal', 'post')",
            name=op.f("ck_outgoing_recipients_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["citizen_case_id"], ["cases.id"], name=op.f("fk_outgoing_recipients_citizen_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_recipients_document_id_outgoing_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["incoming_document_id"],
            ["documents.id"],
            name=op.f("fk_outgoing_recipients_incoming_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["departments.id"], name=op.f("fk_outgoing_recipients_unit_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_recipients")),
    )
    op.create_index(
        "ix_outgoing_recipients_delivery",
        "outgoing_recipients",
        ["delivery", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_outgoing_recipients_document_id"), "outgoing_recipients", ["document_id"], unique=False
    )
    op.create_table(
        "outgoing_related",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.UUID(), nullable=True),
        sa.Column("outgoing_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reply_to", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint(
            "num_nonnulls(entry_id, outgoing_id, note) = 1", name=op.f("ck_outgoing_related_one_target")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_related_document_id_outgoing_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["protocol_entries.id"], name=op.f("fk_outgoing_related_entry_id_protocol_entries")
        ),
        sa.ForeignKeyConstraint(
            ["outgoing_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_related_outgoing_id_outgoing_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_related")),
    )
    op.create_index(
        op.f("ix_outgoing_related_document_id"), "outgoing_related", ["document_id"], unique=False
    )
    op.create_index(
        "uq_outgoing_related_reply_to",
        "outgoing_related",
        ["document_id"],
        unique=True,
        postgresql_where=sa.text("reply_to"),
    )
    op.create_table(
        "outgoing_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("template_text", sa.Text(), nullable=True),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "source IN ('upload', 'template', 'restore')", name=op.f("ck_outgoing_versions_source_known")
        ),
        sa.CheckConstraint("number > 0", name=op.f("ck_outgoing_versions_number_positive")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_outgoing_versions_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_versions_document_id_outgoing_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_versions")),
        sa.UniqueConstraint("document_id", "number", name="uq_outgoing_versions_number"),
    )
    op.create_table(
        "outgoing_reservations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('reservation', 'dissent')", name=op.f("ck_outgoing_reservations_kind_known")
        ),
        sa.CheckConstraint(
            "length(btrim(statement)) > 0", name=op.f("ck_outgoing_reservations_statement_given")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_reservations_document_id_outgoing_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["users.id"], name=op.f("fk_outgoing_reservations_person_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["outgoing_chain_steps.id"],
            name=op.f("fk_outgoing_reservations_step_id_outgoing_chain_steps"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_reservations")),
    )
    op.create_index(
        op.f("ix_outgoing_reservations_document_id"), "outgoing_reservations", ["document_id"], unique=False
    )
    for table in RECORDS:
        op.execute(_append_only(table))


def downgrade() -> None:
    op.drop_index(op.f("ix_outgoing_reservations_document_id"), table_name="outgoing_reservations")
    op.drop_table("outgoing_reservations")
    op.drop_table("outgoing_versions")
    op.drop_index(
        "uq_outgoing_related_reply_to", table_name="outgoing_related", postgresql_where=sa.text("reply_to")
    )
    op.drop_index(op.f("ix_outgoing_related_document_id"), table_name="outgoing_related")
    op.drop_table("outgoing_related")
    op.drop_index(op.f("ix_outgoing_recipients_document_id"), table_name="outgoing_recipients")
    op.drop_index("ix_outgoing_recipients_delivery", table_name="outgoing_recipients")
    op.drop_table("outgoing_recipients")
    op.drop_index("ix_outgoing_events_document", table_name="outgoing_events")
    op.drop_table("outgoing_events")
    op.drop_index("ix_outgoing_chain_steps_folder", table_name="outgoing_chain_steps")
    op.drop_index("ix_outgoing_chain_steps_document", table_name="outgoing_chain_steps")
    op.drop_table("outgoing_chain_steps")
    op.drop_index(op.f("ix_outgoing_attachments_document_id"), table_name="outgoing_attachments")
    op.drop_table("outgoing_attachments")
    op.drop_index("ix_outgoing_documents_author", table_name="outgoing_documents")
    op.drop_table("outgoing_documents")
    op.drop_table("outgoing_saved_chains")
