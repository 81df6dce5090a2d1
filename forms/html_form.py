"""A service's form as an HTML page needs it: fields in order with labels, hints and options,
and the conversion between the strings a browser posts and the JSON the schema checks.

The portal draws the fields from this (``web/templates/citizen/apply``); the server always
checks the converted data with the service's JSON Schema (``forms.submissions``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from forms.services import Service

#: Browser input types for the catalogue's widgets (the rest are drawn as their own element).
_INPUT_TYPES = {"text": "text", "email": "email", "tel": "tel", "date": "date", "number": "text"}


@dataclass(frozen=True)
class FormField:
    """One question of a service's form, in one language."""

    name: str
    label: str
    hint: str | None
    widget: str  # text, textarea, email, tel, date, number, select, radio, checkbox
    input_type: str  # for <input>: text, email, tel, date
    required: bool
    options: tuple[tuple[str, str], ...]
    autocomplete: str | None
    inputmode: str | None


@dataclass(frozen=True)
class FieldGroup:
    """Questions shown together under a heading (``title`` None: no heading)."""

    title: str | None
    fields: tuple[FormField, ...]


_AUTOCOMPLETE = {
    "first_name": "given-name",
    "last_name": "family-name",
    "email": "email",
    "phone": "tel",
    "street": "street-address",
    "postal_code": "postal-code",
    "city": "address-level2",
    "birth_date": "bday",
}


def _field(service: Service, name: str, locale: str) -> FormField:
    ui = service.ui["fields"][name]
    spec = service.form_schema["properties"][name]
    hint = ui.get("help")
    widget = str(ui["widget"])
    kind = spec.get("type")
    inputmode = "numeric" if spec.get("format") in ("afm", "amka") or kind == "integer" else None
    if kind == "number":
        inputmode = "decimal"
    return FormField(
        name=name,
        label=str(ui["label"]["en" if locale == "en" else "el"]),
        hint=str(hint["en" if locale == "en" else "el"]) if hint else None,
        widget=widget,
        input_type=_INPUT_TYPES.get(widget, "text"),
        required=name in service.form_schema.get("required", []),
        options=tuple(
            (value, str(labels["en" if locale == "en" else "el"]))
            for value, labels in ui.get("options", {}).items()
        ),
        autocomplete=_AUTOCOMPLETE.get(name),
        inputmode=inputmode,
    )


def form_layout(service: Service, locale: str) -> list[FieldGroup]:
    """The form's questions in display order, grouped where the service groups them."""
    groups: list[tuple[str | None, list[FormField]]] = []
    titles = service.ui.get("groups", {})
    for name in service.ui["order"]:
        group = service.ui["fields"][name].get("group")
        title = str(titles[group]["en" if locale == "en" else "el"]) if group else None
        if not groups or groups[-1][0] != title:
            groups.append((title, []))
        groups[-1][1].append(_field(service, name, locale))
    return [FieldGroup(title, tuple(fields)) for title, fields in groups]


def _number(text: str, whole: bool) -> Any:
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        return text  # the schema's type check says what is wrong, in the citizen's language
    if whole:
        return int(value) if value == value.to_integral_value() else text
    return int(value) if value == value.to_integral_value() else float(value)


def data_from_html(service: Service, posted: Mapping[str, str]) -> dict[str, Any]:
    """The form data a browser posted (strings), as the JSON the schema checks.

    Empty answers are left out (so "required" says they are missing); numbers become numbers
    when they are numbers and stay text otherwise, for the schema to explain.
    """
    data: dict[str, Any] = {}
    for name, spec in service.form_schema["properties"].items():
        kind = spec.get("type")
        raw = posted.get(name)
        if kind == "boolean":
            data[name] = raw == "true"
            continue
        text = (raw or "").strip()
        if not text:
            continue
        if kind in ("integer", "number"):
            data[name] = _number(text, kind == "integer")
        else:
            data[name] = text
    return data


def data_to_html(service: Service, data: Mapping[str, Any]) -> dict[str, str]:
    """Form data back into the strings the fields show (for the review page and corrections)."""
    shown: dict[str, str] = {}
    for name in service.form_schema["properties"]:
        value = data.get(name)
        if value is None:
            continue
        shown[name] = ("true" if value else "") if isinstance(value, bool) else str(value)
    return shown


def answer_text(service: Service, name: str, value: Any, locale: str) -> str:
    """An answer as the review page shows it: option labels, yes/no, dd/mm/yyyy dates."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return ("Yes" if value else "No") if locale == "en" else ("Ναι" if value else "Όχι")
    options = service.ui["fields"].get(name, {}).get("options", {})
    if str(value) in options:
        return str(options[str(value)]["en" if locale == "en" else "el"])
    if service.form_schema["properties"].get(name, {}).get("format") == "date":
        parts = str(value).split("-")
        if len(parts) == 3:
            return f"{parts[2]}/{parts[1]}/{parts[0]}"
    return str(value)
