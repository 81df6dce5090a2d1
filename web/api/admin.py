"""The administrators' JSON API under ``/api/v1/admin``: actions that change the organisation
or the public record, each audited in the admin chain. Administrators only (403 otherwise).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify

from core.errors import InvalidInput
from engine.issuing.revocation import revoke_issued_document
from engine.people.admin_audit import AdminActor
from engine.people.visibility import NotAdministrator, is_admin
from web.api.input import json_object
from web.api.verify import document_json
from web.auth.tokens import require_staff
from web.context import db

bp = Blueprint("api_admin", __name__, url_prefix="/api/v1/admin")


@bp.before_request
def _administrators_only() -> None:
    staff = require_staff()
    if not is_admin(staff):
        raise NotAdministrator("Only administrators may do this; act in an administrator position.")
    g.admin = staff


def admin_actor() -> AdminActor:
    """The signed-in administrator as the admin log names them."""
    staff: Any = g.admin
    return AdminActor(staff.id, staff.full_name)


@bp.post("/documents/<code>/revoke")
def revoke_document(code: str) -> Response:
    """Revoke an issued document with a reason; /verify/<code> then shows it revoked."""
    reason = json_object().get("reason")
    if not isinstance(reason, str):
        raise InvalidInput("Give 'reason' as text: why the document is revoked.")
    document = revoke_issued_document(db(), code, reason=reason, by=admin_actor())
    return jsonify(document_json(document))
