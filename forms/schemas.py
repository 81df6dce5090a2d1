"""Look up a form key's JSON Schema in forms/definitions/ and validate submitted data.

Kept deliberately small: the engine only needs "is this data acceptable for this form";
issue 6 grows forms into rendered, translated definitions.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from core.errors import ConfigurationError

DEFINITIONS = Path(__file__).resolve().parent / "definitions"
_KEY = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,120}$")


@lru_cache(maxsize=256)
def _validator(form_key: str) -> Draft202012Validator | None:
    if not _KEY.match(form_key):
        raise ConfigurationError(
            f"form key '{form_key}' is not a valid name; use lower-case letters, digits and _."
        )
    path = DEFINITIONS / f"{form_key}.json"
    if not path.exists():
        return None
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
    except (ValueError, Exception) as exc:
        raise ConfigurationError(f"form definition {path} is not a valid JSON Schema: {exc}") from None
    return Draft202012Validator(schema)


def form_exists(form_key: str) -> bool:
    """Whether forms/definitions/<form_key>.json exists."""
    return _validator(form_key) is not None


def validation_errors(form_key: str | None, data: dict[str, Any]) -> list[str]:
    """Human-readable reasons ``data`` does not fit the form; empty when it does.

    A task without a form key accepts no fields at all (nothing to validate against), so
    unexpected data cannot slip into the case.
    """
    if not form_key:
        return [f"unexpected field '{k}': this task has no form" for k in sorted(data)]
    validator = _validator(form_key)
    if validator is None:
        raise ConfigurationError(
            f"form '{form_key}' has no definition; add forms/definitions/{form_key}.json (a JSON Schema)."
        )
    errors = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(form)"
        errors.append(f"{where}: {error.message}")
    return errors


def form_owner(form_key: str | None) -> str | None:
    """The domain engine that alone completes tasks of this form (the definition's
    ``x-polis-completed-by``), or None when any task page may complete them."""
    validator = _validator(form_key) if form_key else None
    owner = None if validator is None else validator.schema.get("x-polis-completed-by")
    return owner if isinstance(owner, str) and owner else None


def form_definition(form_key: str) -> dict[str, Any] | None:
    """The JSON Schema of a task form (for clients that draw it), or None if it has none."""
    validator = _validator(form_key)  # read and checked once per process
    return None if validator is None else copy.deepcopy(validator.schema)


@dataclass(frozen=True)
class FieldProblem:
    """Why one field of a task form is refused, for a message next to the field.

    ``kind``: required, too_short, too_long, choice, format or unexpected; ``limit`` is the
    length for too_short / too_long. Pages word these in the reader's language.
    """

    field: str
    kind: str
    limit: int | None = None


_KINDS = {"minLength": "too_short", "maxLength": "too_long", "enum": "choice", "const": "choice"}


def field_problems(form_key: str | None, data: dict[str, Any]) -> list[FieldProblem]:
    """The problems of ``data`` for the form, one per field (the first one found), form order."""
    if not form_key:
        return [FieldProblem(name, "unexpected") for name in sorted(data)]
    validator = _validator(form_key)
    if validator is None:
        raise ConfigurationError(
            f"form '{form_key}' has no definition; add forms/definitions/{form_key}.json (a JSON Schema)."
        )
    found: dict[str, FieldProblem] = {}
    # A missing top-level answer (e.g. the decision) makes every "if decision is X then Y is
    # required" rule hold vacuously; say only what is missing first.
    basic_missing = [n for n in validator.schema.get("required", []) if n not in data]

    def add(problem: FieldProblem) -> None:
        found.setdefault(problem.field, problem)

    def walk(errors: Any) -> None:
        for error in errors:
            if error.context:
                walk(error.context)
            where = [str(p) for p in error.absolute_path]
            if error.validator == "required":
                if basic_missing and list(error.relative_schema_path)[:1] == ["allOf"]:
                    continue
                for name in error.validator_value:
                    if isinstance(error.instance, dict) and name not in error.instance:
                        add(FieldProblem(".".join([*where, name]), "required"))
            elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
                allowed = set(error.schema.get("properties", {}))
                for name in error.instance:
                    if name not in allowed:
                        add(FieldProblem(name, "unexpected"))
            elif where:
                limit = error.validator_value if isinstance(error.validator_value, int) else None
                add(FieldProblem(".".join(where), _KINDS.get(str(error.validator), "format"), limit))

    walk(validator.iter_errors(data))
    order = list(validator.schema.get("properties", {}))
    return sorted(found.values(), key=lambda p: order.index(p.field) if p.field in order else len(order))
