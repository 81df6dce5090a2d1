"""The shape every ``forms/catalogue/<code>/service.json`` must have (a JSON Schema)."""

from __future__ import annotations

from typing import Any

_TEXT = {
    "type": "object",
    "required": ["el", "en"],
    "properties": {"el": {"type": "string", "minLength": 1}, "en": {"type": "string", "minLength": 1}},
    "additionalProperties": False,
}

#: Checks across fields that JSON Schema cannot express: "not_before" = field's date >= other's.
RULES = ("not_before",)

#: Service categories of the catalogue, in the order the portal lists them.
CATEGORIES = ("civil_registry", "finance", "public_space", "social", "administration")

#: How a citizen can receive the result: download from the tracking page, collect it at the
#: counter, or by post.
DELIVERY_METHODS = ("download", "counter", "post")

#: Widgets a portal knows how to draw; a field's "widget" must be one of them.
WIDGETS = ("text", "textarea", "email", "tel", "date", "number", "select", "radio", "checkbox")

SERVICE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "code",
        "title",
        "description",
        "department",
        "process",
        "fee_eur",
        "deadline_working_days",
        "validity_months",
        "certificate_template",
        "form",
        "attachments",
    ],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]{2,63}$"},
        "title": _TEXT,
        "description": _TEXT,
        "category": {"enum": list(CATEGORIES)},
        "eligibility": _TEXT,
        "delivery": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(DELIVERY_METHODS)},
        },
        "department": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{1,31}$"},
        # The citizen's answer to form field ``field`` picks the department that handles the
        # request (a contact form's subject); answers not listed go to ``department``.
        "routing": {
            "type": "object",
            "required": ["field", "departments"],
            "additionalProperties": False,
            "properties": {
                "field": {"type": "string"},
                "departments": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{1,31}$"},
                },
            },
        },
        # The form field whose answer is the protocol entry's subject (a contact form's own
        # subject); without it the entry says "Αίτηση «<service title>»".
        "subject_field": {"type": "string"},
        "process": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        # Whether someone not signed in may submit it (after confirming their email); default no.
        "anonymous": {"type": "boolean"},
        "fee_eur": {"type": "number", "minimum": 0, "maximum": 100000, "multipleOf": 0.01},
        "deadline_working_days": {"type": "integer", "minimum": 0, "maximum": 365},
        "validity_months": {"type": ["integer", "null"], "minimum": 1, "maximum": 120},
        "certificate_template": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+\\.html$"},
        "form": {
            "type": "object",
            "required": ["schema", "ui"],
            "additionalProperties": False,
            "properties": {
                "rules": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["rule", "field", "other"],
                        "additionalProperties": False,
                        "properties": {
                            "rule": {"enum": list(RULES)},
                            "field": {"type": "string"},
                            "other": {"type": "string"},
                        },
                    },
                },
                "schema": {
                    "type": "object",
                    "required": ["type", "properties"],
                    "properties": {
                        "type": {"const": "object"},
                        "properties": {"type": "object", "minProperties": 1},
                        "additionalProperties": {"const": False},
                    },
                },
                "ui": {
                    "type": "object",
                    "required": ["order", "fields"],
                    "additionalProperties": False,
                    "properties": {
                        "order": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                        "groups": {"type": "object", "additionalProperties": _TEXT},
                        "fields": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "required": ["label", "widget"],
                                "additionalProperties": False,
                                "properties": {
                                    "label": _TEXT,
                                    "help": _TEXT,
                                    "widget": {"enum": list(WIDGETS)},
                                    "group": {"type": "string"},
                                    "options": {"type": "object", "additionalProperties": _TEXT},
                                },
                            },
                        },
                    },
                },
            },
        },
        "attachments": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "label", "required", "mime_types", "max_bytes"],
                "additionalProperties": False,
                "properties": {
                    "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,63}$"},
                    "label": _TEXT,
                    "help": _TEXT,
                    "required": {"type": "boolean"},
                    "mime_types": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "pattern": "^[a-z]+/[a-z0-9.+-]+$"},
                    },
                    "max_bytes": {"type": "integer", "minimum": 1, "maximum": 104857600},
                    "max_files": {"type": "integer", "minimum": 1, "maximum": 20},
                },
            },
        },
    },
}
