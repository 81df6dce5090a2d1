"""The municipal SMS gateway's inbound webhook: ``POST /api/v1/sms/inbound``.

The gateway proves itself with the shared secret ``POLIS_SMS_INBOUND_SECRET``: either the
``X-Polis-SMS-Secret`` header carries it, or ``X-Polis-SMS-Signature`` carries the hex
HMAC-SHA256 of the raw body keyed with it (``sha256=`` prefix optional). The body is JSON or
a form with ``from`` (the citizen's number), ``text`` and optionally ``message_id`` (the
gateway's id: a retried delivery of the same message opens no second request).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import Unauthorized

from core.errors import InvalidInput, ServiceUnavailable
from engine.requests.scanning import scanner_for
from engine.requests.sms import handle_inbound_sms
from web.api.input import json_object
from web.context import db, services

bp = Blueprint("api_sms", __name__, url_prefix="/api/v1/sms")


def _authenticate() -> None:
    configured = services().settings.sms_inbound_secret
    if configured is None or not configured.get_secret_value():
        raise ServiceUnavailable(
            "The SMS webhook is off: set POLIS_SMS_INBOUND_SECRET and give the same secret to the gateway."
        )
    secret = configured.get_secret_value().encode("utf-8")
    sent_secret = request.headers.get("X-Polis-SMS-Secret")
    if sent_secret is not None and hmac.compare_digest(sent_secret.encode("utf-8"), secret):
        return
    signature = request.headers.get("X-Polis-SMS-Signature", "").strip().lower().removeprefix("sha256=")
    expected = hmac.new(secret, request.get_data(cache=True), hashlib.sha256).hexdigest()
    if signature and hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode("ascii")):
        return
    raise Unauthorized(
        description="The SMS gateway must send X-Polis-SMS-Secret or a valid X-Polis-SMS-Signature."
    )


def _message() -> dict[str, Any]:
    hint = 'Send a JSON object {"from": "+3069...", "text": "ΔΥ ΧΑ ..."} or the same as a form.'
    body = json_object(hint) if request.mimetype == "application/json" else request.form.to_dict()
    sender, text, message_id = body.get("from"), body.get("text"), body.get("message_id")
    if not isinstance(sender, str) or not sender.strip():
        raise InvalidInput("'from' (the sender's phone number) is required.", field="from")
    if not isinstance(text, str):
        raise InvalidInput("'text' (the message) is required.", field="text")
    if message_id is not None and not isinstance(message_id, str | int):
        raise InvalidInput("'message_id' must be a string.", field="message_id")
    return {"sender": sender.strip(), "text": text, "message_id": str(message_id) if message_id else None}


@bp.post("/inbound")
def inbound() -> Response:
    """Carry out an inbound SMS command; the answer SMS waits in the outbox."""
    _authenticate()
    message = _message()
    settings = services().settings
    outcome = handle_inbound_sms(
        db(),
        services().store,
        settings,
        sender=message["sender"],
        text=message["text"],
        message_id=message["message_id"],
        scanner=scanner_for(settings.clamd_address),
    )
    return jsonify(
        {
            "action": outcome.action,
            "reply": outcome.reply,
            "case_number": outcome.case_number,
            "protocol_number": outcome.protocol_number,
            "replayed": outcome.replayed,
        }
    )
