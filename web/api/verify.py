"""The JSON twin of the verification page: ``/api/v1/verify/<code>``.

Anyone with the code sees the document's public record and may post a copy to check it
(the same SHA-256 and signature checks as the page, web.pages.verify).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from core.errors import InvalidInput
from engine.issuing.registry import MAX_COPY_BYTES, CopyCheck, IssuedDocument, check_copy, lookup
from signing.config import trust_roots_for
from web.context import db, services
from web.ratelimit import SharedWindow, client_address

bp = Blueprint("api_verify", __name__)

#: Largest copy the public check reads: an issued certificate is a few hundred KB, and full
#: PAdES validation of a 47 MB upload held a worker for 17 s. Refused (413) before reading.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Copy checks per client address (every worker and server together).
CHECKS_PER_ADDRESS = SharedWindow("verify_checks_per_ip", limit=10, window=600.0)


def bound_uploads() -> None:
    """Before a copy is checked (page or API): its size, and the checks per address."""
    if request.method == "POST":
        request.max_content_length = MAX_UPLOAD_BYTES  # bounds a body without Content-Length
        if (request.content_length or 0) > MAX_UPLOAD_BYTES:
            raise RequestEntityTooLarge()  # refused before a byte of the body is read
        if not CHECKS_PER_ADDRESS.hit(client_address()):
            raise TooManyRequests(
                description=_("Too many checks from here; wait a few minutes and try again."),
                retry_after=60,
            )


bp.before_request(bound_uploads)


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
        data = bytes(upload.read(min(MAX_COPY_BYTES, MAX_UPLOAD_BYTES) + 1))
    elif request.mimetype == "application/pdf":
        data = request.get_data(cache=False)[: min(MAX_COPY_BYTES, MAX_UPLOAD_BYTES) + 1]
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
        "revocation_reason": document.revocation_reason,
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
