"""app role: the application connects as a role that owns nothing and may not rewrite history

Revision ID: 0019_app_role
Revises: 0018_audit_anchors
Create Date: 2026-12-05

Migrations run as the role that owns the schema (POLIS_MIGRATION_DATABASE_URL). The web
servers and the worker connect as a login role that is a member of ``polis_app``
(POLIS_DATABASE_URL), which owns nothing — so it can neither drop nor disable the triggers —
and holds only what the application needs: read and write on working tables, INSERT only on the
append-only ones (audit, protocol files/relations/assignments, issued-document events, anchors),
and on protocol entries and issued documents UPDATE of their state columns only (cancellation,
receipt, ΑΔΑ, case link; revocation), never of what was registered or issued. No TRUNCATE
anywhere. Tables added by later migrations get read/write by default (ALTER DEFAULT PRIVILEGES);
a migration adding a permanent table revokes what it must.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019_app_role"
down_revision: str | None = "0018_audit_anchors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "polis_app"
APPEND_ONLY = (
    "audit_events",
    "protocol_entry_files",
    "protocol_entry_relations",
    "protocol_entry_units",
    "issued_document_events",
    "audit_anchors",
)
#: Permanent records: the columns the application may still set (each guarded by a trigger).
STATE_COLUMNS = {
    "protocol_entries": (
        "cancelled_at",
        "cancelled_by_id",
        "cancel_reason",
        "receipt_key",
        "ada",
        "case_id",
        "case_number",
    ),
    "issued_documents": ("status", "revoked_at", "revoked_by_id", "revocation_reason", "superseded_by_id"),
}


def upgrade() -> None:
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
        END $$;
        GRANT USAGE ON SCHEMA public TO {APP_ROLE};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE};
        GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE};
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {APP_ROLE};
        """
    )
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE ON {table} FROM {APP_ROLE}")
    for table, columns in STATE_COLUMNS.items():
        op.execute(f"REVOKE UPDATE, DELETE ON {table} FROM {APP_ROLE}")
        op.execute(f"GRANT UPDATE ({', '.join(columns)}) ON {table} TO {APP_ROLE}")


def downgrade() -> None:
    # The role itself stays: other databases of the cluster may use it.
    op.execute(
        f"""
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE};
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE};
        REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE};
        REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE};
        REVOKE USAGE ON SCHEMA public FROM {APP_ROLE};
        """
    )
