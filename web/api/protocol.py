"""``/api/v1/protocol``: register, read, search, cancel and correct protocol entries (JSON).

Thin views: parse the request, call one service of ``engine.protocol``, shape the answer.
Errors become JSON in ``web/errors.py``; the request's unit of work commits on success.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from core.errors import NotFound
from engine.protocol.drafts import draft_from_mapping
from engine.protocol.entries import (
    assign,
    cancel,
    correct,
    describe,
    describe_restricted,
    get_entry,
    register,
    related_ids,
)
from engine.protocol.receipts import RECEIPT_CONTENT_TYPE, ReceiptSealer, receipt_for, receipt_for_sender
from engine.protocol.references import check_references
from engine.protocol.search import query_from_params, search
from engine.protocol.visibility import assigned_units, may_see_entry
from web.api.input import json_object
from web.auth.tokens import require_staff
from web.context import db, services
from web.downloads import stream_object
from web.links import public_url

bp = Blueprint("protocol_api", __name__, url_prefix="/api/v1/protocol")


#: app.extensions key under which the signing package registers its ReceiptSealer.
RECEIPT_SEALER_EXTENSION = "protocol_receipt_sealer"


class ReceiptLinkInvalid(NotFound):
    """A sender's receipt link was altered or made up."""

    code = "protocol_receipt_link_invalid"


def _user() -> Any:
    """The member of staff, with the staff API's rules: 401 without credentials, the token's
    scope, and the X-CSRF-Token header on cookie-session writes."""
    return require_staff()


def _entry_json(entry: Any, *, visible: bool = True) -> dict[str, Any]:
    if not visible:
        return describe_restricted(entry)
    body = describe(entry, related_ids(db(), entry.id), assigned_units(db(), entry.id))
    body["receipt_url"] = url_for("protocol_api.receipt", entry_id=entry.id)
    # The link to hand to the sender (email, portal): signed, so no sign-in is needed.
    token = _receipt_tokens().dumps(str(entry.id))
    body["sender_receipt_url"] = public_url("protocol_api.sender_receipt", token=token)
    return body


def _receipt_tokens() -> URLSafeSerializer:
    return URLSafeSerializer(services().settings.secret(), salt="protocol-receipt")


def _receipt_sealer() -> ReceiptSealer | None:
    """HOOK for the signing package: put a ReceiptSealer in app.extensions to seal receipts."""
    sealer: ReceiptSealer | None = current_app.extensions.get(RECEIPT_SEALER_EXTENSION)
    return sealer


def _pdf(key: str, filename: str) -> Response:
    return stream_object(
        services().store, key, content_type=RECEIPT_CONTENT_TYPE, filename=filename, disposition="inline"
    )


@bp.post("/entries")
def register_entry() -> tuple[Response, int]:
    """Register a document; 201 with the entry and its number."""
    user = _user()
    draft = check_references(db(), services().store, draft_from_mapping(json_object()), user)
    entry = register(db(), draft, registered_by=user)
    return jsonify(_entry_json(entry)), 201


@bp.get("/entries/<uuid:entry_id>")
def get(entry_id: uuid.UUID) -> Response:
    """One entry: in full for its units, number and date only for other staff."""
    user = _user()
    entry = get_entry(db(), entry_id, user)
    return jsonify(_entry_json(entry, visible=may_see_entry(db(), entry, user)))


@bp.post("/entries/<uuid:entry_id>/assignments")
def assign_entry(entry_id: uuid.UUID) -> Response:
    """Assign an entry to more units (χρέωση); body ``{"departments": ["DHM", ...]}``."""
    user = _user()
    codes = json_object().get("departments")
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        codes = []
    assign(db(), entry_id, codes, assigned_by=user)
    return jsonify(_entry_json(get_entry(db(), entry_id, user)))


@bp.get("/entries")
def search_entries() -> Response:
    """Search: number, year, registry, date_from, date_to, direction, party, q, case_id,
    case_number, classification, unit, include_cancelled, limit, cursor."""
    page = search(db(), query_from_params(request.args), _user())
    entries = [_entry_json(entry, visible=entry.id in page.visible) for entry in page.entries]
    return jsonify({"entries": entries, "next_cursor": page.next_cursor})


@bp.post("/entries/<uuid:entry_id>/cancel")
def cancel_entry(entry_id: uuid.UUID) -> Response:
    """Cancel an entry (it keeps its number); body ``{"reason": "..."}``."""
    user = _user()
    reason = json_object().get("reason")
    entry = cancel(db(), entry_id, reason=str(reason or ""), cancelled_by=user)
    return jsonify(_entry_json(entry, visible=may_see_entry(db(), entry, user)))


@bp.post("/entries/<uuid:entry_id>/corrections")
def correct_entry(entry_id: uuid.UUID) -> tuple[Response, int]:
    """Register an ορθή επανάληψη of an entry; 201 with the new entry."""
    user = _user()
    draft = check_references(db(), services().store, draft_from_mapping(json_object()), user)
    entry = correct(db(), entry_id, draft, registered_by=user)
    return jsonify(_entry_json(entry)), 201


@bp.get("/entries/<uuid:entry_id>/receipt")
def receipt(entry_id: uuid.UUID) -> Response:
    """The registration receipt (PDF), made on first request."""
    polis = services()
    key, filename = receipt_for(
        db(),
        polis.store,
        entry_id,
        _user(),
        issuer=polis.settings.municipality_name,
        sealer=_receipt_sealer(),
    )
    return _pdf(key, filename)


@bp.get("/receipts/<token>")
def sender_receipt(token: str) -> Response:
    """The receipt for the sender, through the signed link given at registration."""
    try:
        entry_id = uuid.UUID(str(_receipt_tokens().loads(token)))
    except (BadSignature, ValueError) as exc:
        raise ReceiptLinkInvalid(
            "This receipt link is not valid; ask the protocol office for a new one."
        ) from exc
    polis = services()
    key, filename = receipt_for_sender(
        db(), polis.store, entry_id, issuer=polis.settings.municipality_name, sealer=_receipt_sealer()
    )
    return _pdf(key, filename)
