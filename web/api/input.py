"""Reading the JSON body of an API request: one reader for every API."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import gettext as _

from core.errors import InvalidInput
from web.input_guard import parse_json_text


def json_object(hint: str | None = None) -> dict[str, Any]:
    """The request's JSON object body, or 422 with ``hint`` (what to send instead)."""
    data = request.get_json(silent=True)  # web.input_guard refuses deep nesting and NUL characters
    if not isinstance(data, dict):
        raise InvalidInput(hint or _default_hint())
    return data


def parse_json_object(raw: str, what: str, hint: str | None = None) -> dict[str, Any]:
    """A JSON object sent as text (e.g. a multipart part named ``what``), or 422 with ``hint``."""
    try:
        data = parse_json_text(raw, f"The '{what}' part")  # refuses deep nesting and NUL characters
    except ValueError as exc:
        raise InvalidInput(f"The '{what}' part is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise InvalidInput(hint or _default_hint())
    return data


def _default_hint() -> str:
    return str(_("Send a JSON object with Content-Type: application/json."))
