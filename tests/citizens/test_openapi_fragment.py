"""web/api/openapi/citizen.yaml describes every /api/v1 route of the citizen and SMS blueprints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate

FRAGMENT = Path(__file__).resolve().parents[2] / "web" / "api" / "openapi" / "citizen.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}


def fragment() -> dict[str, Any]:
    return dict(yaml.safe_load(FRAGMENT.read_text(encoding="utf-8")))


def test_fragment_is_a_valid_openapi_document() -> None:
    data = fragment()
    assert set(data) <= {"paths", "components"}
    # Framed as the merge code does (with the Error schema it assumes exists).
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Polis", "version": "1"},
        "paths": data["paths"],
        "components": data["components"]
        | {
            "schemas": data["components"]["schemas"]
            | {"Error": {"type": "object", "required": ["error", "message"]}}
        },
    }
    validate(document)


def test_every_route_is_described(app: Any) -> None:
    described = {
        (path, method) for path, item in fragment()["paths"].items() for method in item if method in METHODS
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in ("api_citizen", "api_sms"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods or () if m.lower() in METHODS}
    assert routes and routes == described
