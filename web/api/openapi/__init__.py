"""The OpenAPI 3.1 document of ``/api/v1``, merged at load from per-area fragment files.

Fragment format: every ``web/api/openapi/<area>.yaml`` (``_base.yaml`` first, then the others in
name order) is a YAML mapping with up to two keys::

    paths:                       # OpenAPI path items, exactly as in an OpenAPI document
      /api/v1/things/{id}:
        get: {...}
    components:
      schemas:                   # named schemas, referenced as #/components/schemas/<Name>
        Thing: {...}

Fragments may use what ``_base.yaml`` defines: the ``Error`` schema, the responses
``Unauthorized``, ``Forbidden``, ``NotFound``, ``Conflict``, ``Unprocessable`` and the
security schemes ``session`` (cookie) and ``bearer`` (API token). A path, or a schema
name, defined by two fragments is an error: each area owns its own. Adding an area is
adding a file (no code); tests/web/test_openapi.py fails for any /api/v1 route the merged
document does not describe.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

from core.errors import ConfigurationError

FRAGMENTS = Path(__file__).resolve().parent
BASE = "_base.yaml"
_ALLOWED = {"paths", "components"}

bp = Blueprint("openapi", __name__)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"OpenAPI fragment {path.name} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"OpenAPI fragment {path.name} must be a mapping with 'paths'/'components'.")
    return data


def merge_fragments(directory: Path = FRAGMENTS) -> dict[str, Any]:
    """The whole document: the base plus every fragment's paths and components."""
    document = _read(directory / BASE)
    document.setdefault("paths", {})
    components = document.setdefault("components", {})
    for path in sorted(directory.glob("*.yaml")):
        if path.name == BASE:
            continue
        fragment = _read(path)
        unknown = set(fragment) - _ALLOWED
        if unknown:
            raise ConfigurationError(
                f"OpenAPI fragment {path.name} has keys {sorted(unknown)}; only 'paths' and "
                "'components' belong in a fragment (the rest is in _base.yaml)."
            )
        for route, item in (fragment.get("paths") or {}).items():
            if route in document["paths"]:
                raise ConfigurationError(
                    f"{path.name}: path {route} is already described by another fragment."
                )
            document["paths"][route] = item
        for kind, entries in (fragment.get("components") or {}).items():
            section = components.setdefault(kind, {})
            for name, value in (entries or {}).items():
                if name in section:
                    raise ConfigurationError(f"{path.name}: components.{kind}.{name} is defined twice.")
                section[name] = value
    return document


@lru_cache(maxsize=1)
def _cached() -> dict[str, Any]:
    return merge_fragments()


def openapi_document() -> dict[str, Any]:
    """The merged document (read once per process; a copy callers may change)."""
    return copy.deepcopy(_cached())


@bp.get("/api/v1/openapi.json")
def document() -> Response:
    """The OpenAPI 3.1 description of every /api/v1 endpoint."""
    return jsonify(_cached())
