"""org chart: unit kinds, positions held by people, dated substitutions, the admin audit chain

Existing staff get positions from their department and roles: head → head, clerk → clerk,
protocol_clerk (with or without clerk) → protocol_officer, admin → admin. A user without a
department keeps no position (the acting staff member then falls back to the user's own
department and roles, as before).

Revision ID: 0021_org
Revises: 0020_saved_views
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021_org"
down_revision: str | None = "0020_saved_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("departments", sa.Column("kind", sa.String(32), server_default="department", nullable=False))
    op.add_column("departments", sa.Column("email", sa.String(254), nullable=True))
    op.add_column("departments", sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False))
    op.create_check_constraint(
        op.f("ck_departments_kind"),
        "departments",
        "kind IN ('municipality', 'general_directorate', 'directorate', 'department', 'office')",
    )
    op.create_table(
        "positions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("unit_id", sa.Uuid(), sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("delegated_signature", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('head', 'clerk', 'protocol_officer', 'signatory', 'admin')", name=op.f("ck_positions_kind")
        ),
    )
    op.create_index("ix_positions_user_id", "positions", ["user_id"])
    op.create_index("ix_positions_unit_id", "positions", ["unit_id"])
    op.create_index(
        "uq_positions_current",
        "positions",
        ["user_id", "unit_id", "kind"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "substitutions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("unit_id", sa.Uuid(), sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("head_user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("substitute_user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("starts_on <= ends_on", name=op.f("ck_substitutions_dates")),
    )
    op.create_index("ix_substitutions_unit_id", "substitutions", ["unit_id"])
    op.create_index("ix_substitutions_head_user_id", "substitutions", ["head_user_id"])
    op.create_index("ix_substitutions_substitute_user_id", "substitutions", ["substitute_user_id"])
    op.create_table(
        "admin_events",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("seq", sa.Integer(), nullable=False, unique=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "admin_chain_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute("INSERT INTO admin_chain_head (id, seq, hash) VALUES (1, 0, '')")
    # History is append-only: the database refuses to change or remove an admin event.
    op.execute(
        """
        CREATE FUNCTION admin_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'admin_events is append-only (% refused)', TG_OP;
        END $$;
        CREATE TRIGGER admin_events_append_only BEFORE UPDATE OR DELETE ON admin_events
            FOR EACH ROW EXECUTE FUNCTION admin_events_append_only();
        """
    )
    # Positions of today's staff, from their department and roles.
    op.execute(
        """
        INSERT INTO positions (id, user_id, unit_id, kind)
        SELECT gen_random_uuid(), u.id, u.department_id, k.kind
        FROM users u
        CROSS JOIN LATERAL (
            SELECT 'head' AS kind WHERE 'head' = ANY(u.roles)
            UNION ALL SELECT 'protocol_officer' WHERE 'protocol_clerk' = ANY(u.roles)
            UNION ALL SELECT 'clerk' WHERE 'clerk' = ANY(u.roles) AND NOT 'protocol_clerk' = ANY(u.roles)
            UNION ALL SELECT 'admin' WHERE 'admin' = ANY(u.roles)
        ) k
        WHERE u.department_id IS NOT NULL
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER admin_events_append_only ON admin_events")
    op.execute("DROP FUNCTION admin_events_append_only()")
    op.drop_table("admin_events")
    op.drop_table("admin_chain_head")
    op.drop_table("substitutions")
    op.drop_table("positions")
    op.drop_constraint(op.f("ck_departments_kind"), "departments")
    op.drop_column("departments", "is_active")
    op.drop_column("departments", "email")
    op.drop_column("departments", "kind")
