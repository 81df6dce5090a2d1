"""Revoking an issued document as an administrative act: the registry's revoke, audited in the
admin chain (who, when, which document, why)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.issuing.registry import IssuedDocument, revoke_document
from engine.people.admin_audit import AdminActor, record_admin_event


def revoke_issued_document(session: Session, code: str, *, reason: str, by: AdminActor) -> IssuedDocument:
    """Revoke the document with verification ``code``; /verify/<code> then shows it revoked."""
    document = revoke_document(session, code, by=by.id, reason=reason)
    record_admin_event(
        session,
        by,
        "document.revoke",
        {"code": document.verification_code, "protocol_number": document.protocol_number, "reason": reason},
    )
    return document


def find_issued_documents(session: Session, query: str, limit: int = 50) -> list[IssuedDocument]:
    """Issued documents whose code, protocol number or title contains ``query``, newest first."""
    text = query.strip()
    statement = select(IssuedDocument).order_by(IssuedDocument.issued_at.desc()).limit(limit)
    if text:
        pattern = f"%{text.replace('%', '').replace('_', '')}%"
        statement = statement.where(
            or_(
                IssuedDocument.verification_code.ilike(pattern),
                IssuedDocument.protocol_number.ilike(pattern),
                IssuedDocument.title.ilike(pattern),
            )
        )
    return list(session.scalars(statement))
