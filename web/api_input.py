"""Reading the JSON body of an API request."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import gettext as _

from core.errors import InvalidInput


def json_object() -> dict[str, Any]:
    """The request's JSON object body, or 422 saying how to send one."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(_("Send a JSON object with Content-Type: application/json."))
    return data
