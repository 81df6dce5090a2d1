"""The JSON twin of the verification page: ``/api/v1/verify/<code>``.

Anyone with the code sees the document's public record and may post a copy to check it
(the same SHA-256 and signature checks as the page, web.pages.verify).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _

from core.errors import InvalidInput
from engine.issuing.registry import MAX_COPY_BYTES, CopyCheck, IssuedDocument, check_copy, lookup
from signing.config import trust_roots_for
from web.context import db, services

bp = Blueprint("api_verify", __name__)


def trust_roots() -> list[Any]:
    """The trust roots signatures are checked against."""
    # Loaded once per process (reading certificates, maybe generating the demo PKI).
    roots = current_app.extensions.get("polis_trust_roots")
    if roots is None:
        roots = trust_roots_for(services().settings)
        current_app.extensions["polis_trust_roots"] = roots
    return list(roots)


def uploaded_copy() -> bytes:
    """The copy to check: a multipart field ``file`` or a raw PDF body (at most MAX_COPY_BYTES + 1)."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data = bytes(upload.read(MAX_COPY_BYTES + 1))
    elif request.mimetype == "application/pdf":
        data = request.get_data(cache=False)[: MAX_COPY_BYTES + 1]
    else:
        raise InvalidInput(_("Choose the PDF file you want to check."))
    return data


def document_json(document: IssuedDocument) -> dict[str, Any]:
    """The document's public record."""
    return {
        "code": document.verification_code,
        "status": document.status,
        "title": document.title,
        "protocol_number": document.protocol_number,
        "signer_name": document.signer_name,
        "signer_title": document.signer_title,
        "issued_at": document.issued_at.isoformat(),
        "revoked_at": document.revoked_at.isoformat() if document.revoked_at else None,
        "sha256": document.sha256,
    }


def _check_json(check: CopyCheck) -> dict[str, Any]:
    return {"sha256": check.sha256, "same_file": check.same_file, "signatures": check.report.to_dict()}


@bp.get("/api/v1/verify/<code>")
def api_status(code: str) -> Response:
    """The document's public record as JSON."""
    return jsonify(document_json(lookup(db(), code)))


@bp.post("/api/v1/verify/<code>")
def api_check(code: str) -> Response:
    """Check a copy (multipart field ``file`` or a raw ``application/pdf`` body)."""
    check = check_copy(db(), code, uploaded_copy(), trust_roots())
    return jsonify({**document_json(check.document), "copy": _check_json(check)})
