"""The OpenAPI document: valid OpenAPI 3.1, and it describes every /api/v1 route there is."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from sqlalchemy.orm import Session

from core.errors import ConfigurationError
from tests.web.staff_fixtures import bearer, build_world
from web.api.openapi import FRAGMENTS, merge_fragments

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _openapi_path(rule: str) -> str:
    # Flask's <uuid:task_id> / <code> become OpenAPI's {task_id} / {code}.
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi_31(client: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    validate(document)
    schemes = set(document["components"]["securitySchemes"])
    assert schemes == {"bearer", "session", "citizenSession", "smsSecret", "smsSignature"}


def test_every_api_route_is_documented_and_every_documented_route_exists(app: Any) -> None:
    document = merge_fragments()
    routes = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - IGNORED_METHODS
    }
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert sorted(routes - documented) == [], "routes missing from web/api/openapi/*.yaml"
    assert sorted(documented - routes) == [], "documented routes that the app does not have"


def test_each_operation_has_an_id_and_staff_operations_document_401_and_403() -> None:
    document = merge_fragments()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post"):
                continue
            assert operation.get("operationId"), (path, method)
            if {"bearer": []} in operation.get("security", []):
                assert {"401", "403"} <= set(operation["responses"]), f"{method.upper()} {path}"


def test_fragments_may_not_redefine_each_others_paths(tmp_path: Path) -> None:
    (tmp_path / "_base.yaml").write_text((FRAGMENTS / "_base.yaml").read_text(encoding="utf-8"))
    (tmp_path / "a.yaml").write_text(
        "paths:\n  /api/v1/x:\n    get: {responses: {'200': {description: ok}}}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "paths:\n  /api/v1/x:\n    post: {responses: {'200': {description: ok}}}\n"
    )
    with pytest.raises(ConfigurationError, match="already described"):
        merge_fragments(tmp_path)
    (tmp_path / "b.yaml").write_text("info: {title: mine}\n")
    with pytest.raises(ConfigurationError, match="only 'paths' and 'components'"):
        merge_fragments(tmp_path)
    (tmp_path / "b.yaml").write_text("components:\n  schemas:\n    Error: {type: object}\n")
    with pytest.raises(ConfigurationError, match="defined twice"):
        merge_fragments(tmp_path)


def _validator(document: dict[str, Any], name: str) -> OAS31Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return OAS31Validator(schema)


def test_staff_answers_match_their_schemas(client: Any, db_session: Session) -> None:
    world = build_world(db_session)
    headers = bearer(db_session, world.org.clerk)
    db_session.commit()
    document = merge_fragments()
    answers = {
        "TaskPage": client.get("/api/v1/tasks?view=department", headers=headers).json,
        "Task": client.get(f"/api/v1/tasks/{world.task_id}", headers=headers).json,
        "CaseDetail": client.get(f"/api/v1/cases/{world.case_id}", headers=headers).json,
        "StaffMember": client.get("/api/v1/me", headers=headers).json,
        "Error": client.get("/api/v1/tasks").json,
    }
    for name, body in answers.items():
        _validator(document, name).validate(body)
