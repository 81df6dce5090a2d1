"""Protocol registry: registries, yearly counters, entries, files, relations, guards.

Revision ID: 0003_protocol
Revises: 0004_signing
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0003_protocol"
down_revision = "0004_signing"
branch_labels = None
depends_on = None

# unaccent() is only STABLE (its dictionary could change), so a generated column cannot call
# it; this wrapper names the dictionary explicitly and promises immutability, the usual
# PostgreSQL idiom. polis_text_join exists for the same reason (array_to_string is STABLE).
FUNCTIONS = """
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE FUNCTION polis_unaccent(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

CREATE FUNCTION polis_text_join(text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(array_to_string($1, ' '), '') $$;
"""

# The law says a registered number, its time, direction and file hashes never change. The
# database refuses it, whatever the client. Only the cancellation (once), the receipt and
# ΑΔΑ (set once) and the case link (set once) may be written after registration.
GUARDS = """
CREATE FUNCTION protocol_entries_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'protocol entry % % % is permanent and cannot be deleted; cancel it instead',
            OLD.number, OLD.direction, OLD.year USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.id, NEW.registry_id, NEW.year, NEW.number, NEW.registered_at, NEW.direction)
        IS DISTINCT FROM
       (OLD.id, OLD.registry_id, OLD.year, OLD.number, OLD.registered_at, OLD.direction) THEN
        RAISE EXCEPTION 'protocol entry % % %: number, year, registry, registration time and direction are immutable',
            OLD.number, OLD.direction, OLD.year USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.subject, NEW.sender, NEW.sender_reference, NEW.sender_date, NEW.recipients,
        NEW.copies, NEW.attachments_count, NEW.attachments_description, NEW.delivery_method,
        NEW.document_type, NEW.classification, NEW.registered_by_id, NEW.corrects_id)
        IS DISTINCT FROM
       (OLD.subject, OLD.sender, OLD.sender_reference, OLD.sender_date, OLD.recipients,
        OLD.copies, OLD.attachments_count, OLD.attachments_description, OLD.delivery_method,
        OLD.document_type, OLD.classification, OLD.registered_by_id, OLD.corrects_id) THEN
        RAISE EXCEPTION 'protocol entry % % %: the registered content is immutable; register a correction (ορθή επανάληψη) instead',
            OLD.number, OLD.direction, OLD.year USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.cancelled_at IS NOT NULL AND (NEW.cancelled_at, NEW.cancelled_by_id, NEW.cancel_reason)
        IS DISTINCT FROM (OLD.cancelled_at, OLD.cancelled_by_id, OLD.cancel_reason) THEN
        RAISE EXCEPTION 'protocol entry % % % is already cancelled; a cancellation is final',
            OLD.number, OLD.direction, OLD.year USING ERRCODE = 'restrict_violation';
    END IF;
    IF (OLD.receipt_key IS NOT NULL AND NEW.receipt_key IS DISTINCT FROM OLD.receipt_key)
       OR (OLD.ada IS NOT NULL AND NEW.ada IS DISTINCT FROM OLD.ada)
       OR (OLD.case_id IS NOT NULL AND NEW.case_id IS DISTINCT FROM OLD.case_id)
       OR (OLD.case_number IS NOT NULL AND NEW.case_number IS DISTINCT FROM OLD.case_number) THEN
        RAISE EXCEPTION 'protocol entry % % %: receipt, ΑΔΑ and case link are set once and then immutable',
            OLD.number, OLD.direction, OLD.year USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER protocol_entries_guard BEFORE UPDATE OR DELETE ON protocol_entries
    FOR EACH ROW EXECUTE FUNCTION protocol_entries_guard();

CREATE FUNCTION protocol_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of % is refused: registered files and relations are permanent',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER protocol_entry_files_append_only BEFORE UPDATE OR DELETE ON protocol_entry_files
    FOR EACH ROW EXECUTE FUNCTION protocol_append_only();
CREATE TRIGGER protocol_entry_relations_append_only BEFORE UPDATE OR DELETE ON protocol_entry_relations
    FOR EACH ROW EXECUTE FUNCTION protocol_append_only();
CREATE TRIGGER protocol_entries_no_truncate BEFORE TRUNCATE ON protocol_entries
    FOR EACH STATEMENT EXECUTE FUNCTION protocol_append_only();
CREATE TRIGGER protocol_entry_files_no_truncate BEFORE TRUNCATE ON protocol_entry_files
    FOR EACH STATEMENT EXECUTE FUNCTION protocol_append_only();
"""


def upgrade() -> None:
    """Create the protocol tables, their guards and the general registry."""
    op.execute(FUNCTIONS)
    op.create_table(
        "protocol_registries",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name_el", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_registries")),
        sa.UniqueConstraint("code", name=op.f("uq_protocol_registries_code")),
    )
    op.create_table(
        "protocol_counters",
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.Column("last_registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("last_number >= 0", name=op.f("ck_protocol_counters_last_number_not_negative")),
        sa.PrimaryKeyConstraint("registry_id", "year", name=op.f("pk_protocol_counters")),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["protocol_registries.id"],
            name=op.f("fk_protocol_counters_registry_id_protocol_registries"),
        ),
    )
    op.create_table(
        "protocol_entries",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False, server_default=sa.text("gen_random_uuid()")),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("sender", sa.Text()),
        sa.Column("sender_reference", sa.Text()),
        sa.Column("sender_date", sa.Date()),
        sa.Column("recipients", pg.ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("copies", pg.ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("attachments_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("attachments_description", sa.Text()),
        sa.Column("delivery_method", sa.String(16)),
        sa.Column("document_type", sa.Text()),
        sa.Column("classification", sa.String(3)),
        sa.Column("case_id", pg.UUID(as_uuid=True)),
        sa.Column("case_number", sa.Text()),
        sa.Column("registered_by_id", pg.UUID(as_uuid=True)),
        sa.Column("corrects_id", pg.UUID(as_uuid=True)),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_by_id", pg.UUID(as_uuid=True)),
        sa.Column("cancel_reason", sa.Text()),
        sa.Column("receipt_key", sa.Text()),
        sa.Column("ada", sa.Text()),
        sa.Column(
            "subject_tsv",
            pg.TSVECTOR(),
            sa.Computed("to_tsvector('greek'::regconfig, polis_unaccent(subject))", persisted=True),
        ),
        sa.Column(
            "parties_tsv",
            pg.TSVECTOR(),
            sa.Computed(
                "to_tsvector('simple'::regconfig, polis_unaccent(coalesce(sender, '') || ' '"
                " || polis_text_join(recipients) || ' ' || polis_text_join(copies)))",
                persisted=True,
            ),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_entries")),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["protocol_registries.id"],
            name=op.f("fk_protocol_entries_registry_id_protocol_registries"),
        ),
        sa.ForeignKeyConstraint(
            ["corrects_id"],
            ["protocol_entries.id"],
            name=op.f("fk_protocol_entries_corrects_id_protocol_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_id"], ["users.id"], name=op.f("fk_protocol_entries_registered_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["cancelled_by_id"], ["users.id"], name=op.f("fk_protocol_entries_cancelled_by_id_users")
        ),
        sa.UniqueConstraint("registry_id", "year", "number", name=op.f("uq_protocol_entries_number")),
        sa.CheckConstraint("number > 0", name=op.f("ck_protocol_entries_number_positive")),
        sa.CheckConstraint("length(btrim(subject)) > 0", name=op.f("ck_protocol_entries_subject_not_blank")),
        sa.CheckConstraint(
            "direction IN ('ΕΙΣ', 'ΕΞ', 'ΕΣΩ')", name=op.f("ck_protocol_entries_direction_known")
        ),
        sa.CheckConstraint(
            "classification IS NULL OR classification IN ('ΠΧ', 'ΕΜΠ', 'ΠΔ')",
            name=op.f("ck_protocol_entries_classification_known"),
        ),
        sa.CheckConstraint(
            "delivery_method IS NULL OR delivery_method IN ('email', 'hand', 'post', 'kside', 'portal')",
            name=op.f("ck_protocol_entries_delivery_method_known"),
        ),
        sa.CheckConstraint(
            "sender_reference IS NULL OR sender_date IS NOT NULL",
            name=op.f("ck_protocol_entries_sender_reference_dated"),
        ),
        sa.CheckConstraint(
            "attachments_count >= 0", name=op.f("ck_protocol_entries_attachments_count_not_negative")
        ),
        sa.CheckConstraint(
            "(cancelled_at IS NULL) = (cancel_reason IS NULL)",
            name=op.f("ck_protocol_entries_cancel_reason_given"),
        ),
    )
    op.create_index(op.f("ix_protocol_entries_year_number"), "protocol_entries", ["year", "number"])
    op.create_index(op.f("ix_protocol_entries_registered_at"), "protocol_entries", ["registered_at", "id"])
    op.create_index(
        op.f("ix_protocol_entries_classification_registered_at"),
        "protocol_entries",
        ["classification", "registered_at", "id"],
        postgresql_where=sa.text("classification IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_protocol_entries_case_id"),
        "protocol_entries",
        ["case_id"],
        postgresql_where=sa.text("case_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_protocol_entries_corrects_id"),
        "protocol_entries",
        ["corrects_id"],
        postgresql_where=sa.text("corrects_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_protocol_entries_subject_tsv"), "protocol_entries", ["subject_tsv"], postgresql_using="gin"
    )
    op.create_index(
        op.f("ix_protocol_entries_parties_tsv"), "protocol_entries", ["parties_tsv"], postgresql_using="gin"
    )
    op.create_table(
        "protocol_entry_files",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("entry_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_entry_files")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["protocol_entries.id"],
            name=op.f("fk_protocol_entry_files_entry_id_protocol_entries"),
        ),
        sa.UniqueConstraint("entry_id", "position", name=op.f("uq_protocol_entry_files_position")),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_protocol_entry_files_sha256_hex")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_protocol_entry_files_size_not_negative")),
    )
    op.create_index(op.f("ix_protocol_entry_files_entry_id"), "protocol_entry_files", ["entry_id"])
    op.create_table(
        "protocol_entry_relations",
        sa.Column("entry_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("related_id", pg.UUID(as_uuid=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "related_id", name=op.f("pk_protocol_entry_relations")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["protocol_entries.id"],
            name=op.f("fk_protocol_entry_relations_entry_id_protocol_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["related_id"],
            ["protocol_entries.id"],
            name=op.f("fk_protocol_entry_relations_related_id_protocol_entries"),
        ),
        sa.CheckConstraint("entry_id <> related_id", name=op.f("ck_protocol_entry_relations_not_self")),
    )
    op.create_index(
        op.f("ix_protocol_entry_relations_related_id"), "protocol_entry_relations", ["related_id"]
    )
    op.execute(GUARDS)
    op.execute(
        "INSERT INTO protocol_registries (code, name_el, name_en) "
        "VALUES ('GEN', 'Γενικό Πρωτόκολλο', 'General registry')"
    )


def downgrade() -> None:
    """Drop the protocol tables (only sensible on an empty or test database)."""
    for table in ("protocol_entry_relations", "protocol_entry_files", "protocol_entries"):
        op.drop_table(table)
    op.drop_table("protocol_counters")
    op.drop_table("protocol_registries")
    op.execute("DROP FUNCTION protocol_append_only(); DROP FUNCTION protocol_entries_guard();")
    op.execute("DROP FUNCTION polis_text_join(text[]); DROP FUNCTION polis_unaccent(text);")
