"""protocol visibility: the registering office of each entry and the units it is assigned to

Revision ID: 0015_protocol_visibility
Revises: 0014_reliability
Create Date: 2026-12-05

An entry's contents (subject, parties, files) are shown to the registering office, to the
units the entry is assigned to (χρέωση) and to the department of its case; other staff see
only its number (engine/protocol/visibility.py). The registering office is set once and never
changes; assignments are append-only, like files and relations.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_protocol_visibility"
down_revision: str | None = "0014_reliability"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNIT_GUARD = """
CREATE FUNCTION protocol_entries_unit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.unit_id IS DISTINCT FROM OLD.unit_id THEN
        RAISE EXCEPTION 'protocol entry % % %: the registering office is immutable',
            OLD.number, OLD.direction, OLD.year USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER protocol_entries_unit_guard BEFORE UPDATE ON protocol_entries
    FOR EACH ROW EXECUTE FUNCTION protocol_entries_unit_guard();
CREATE TRIGGER protocol_entry_units_append_only BEFORE UPDATE OR DELETE ON protocol_entry_units
    FOR EACH ROW EXECUTE FUNCTION protocol_append_only();
CREATE TRIGGER protocol_entry_units_no_truncate BEFORE TRUNCATE ON protocol_entry_units
    FOR EACH STATEMENT EXECUTE FUNCTION protocol_append_only();
"""


def upgrade() -> None:
    op.add_column("protocol_entries", sa.Column("unit_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_protocol_entries_unit_id_departments"),
        "protocol_entries",
        "departments",
        ["unit_id"],
        ["id"],
    )
    # Entries registered before: their registering office is the registrar's department now.
    op.execute(
        "UPDATE protocol_entries AS e SET unit_id = u.department_id FROM users AS u"
        " WHERE u.id = e.registered_by_id AND u.department_id IS NOT NULL"
    )
    op.create_table(
        "protocol_entry_units",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column(
            "assigned_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("assigned_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["protocol_entries.id"],
            name=op.f("fk_protocol_entry_units_entry_id_protocol_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_protocol_entry_units_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"], ["users.id"], name=op.f("fk_protocol_entry_units_assigned_by_id_users")
        ),
        sa.PrimaryKeyConstraint("entry_id", "department_id", name=op.f("pk_protocol_entry_units")),
    )
    op.create_index(
        "ix_protocol_entry_units_department_entry", "protocol_entry_units", ["department_id", "entry_id"]
    )
    op.create_index(
        "ix_protocol_entries_unit_id",
        "protocol_entries",
        ["unit_id"],
        postgresql_where=sa.text("unit_id IS NOT NULL"),
    )
    op.create_index(
        "ix_protocol_entries_registered_by_id",
        "protocol_entries",
        ["registered_by_id"],
        postgresql_where=sa.text("registered_by_id IS NOT NULL"),
    )
    op.create_index("ix_cases_department_id", "cases", ["department_id"])
    op.execute(UNIT_GUARD)


def downgrade() -> None:
    op.drop_index("ix_cases_department_id", table_name="cases")
    op.drop_index("ix_protocol_entries_registered_by_id", table_name="protocol_entries")
    op.drop_index("ix_protocol_entries_unit_id", table_name="protocol_entries")
    op.execute("DROP TRIGGER protocol_entries_unit_guard ON protocol_entries")
    op.execute("DROP FUNCTION protocol_entries_unit_guard()")
    op.drop_table("protocol_entry_units")
    op.drop_constraint(
        op.f("fk_protocol_entries_unit_id_departments"), "protocol_entries", type_="foreignkey"
    )
    op.drop_column("protocol_entries", "unit_id")
