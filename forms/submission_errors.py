"""Readable Greek and English messages for form data that fails its JSON Schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jsonschema import ValidationError

if TYPE_CHECKING:
    from forms.services import Service


@dataclass(frozen=True)
class FieldError:
    """One problem with a submission: the field it concerns and the message in el and en."""

    field: str
    el: str
    en: str

    def message(self, locale: str) -> str:
        """The message in ``locale`` (Greek unless English is asked for)."""
        return self.en if locale == "en" else self.el

    def as_dict(self) -> dict[str, str]:
        """A JSON-ready form, for API responses."""
        return {"field": self.field, "el": self.el, "en": self.en}


_TYPES = {
    "string": ("κείμενο", "text"),
    "integer": ("ακέραιος αριθμός", "a whole number"),
    "number": ("αριθμός", "a number"),
    "boolean": ("ναι/όχι", "yes/no"),
    "object": ("αντικείμενο", "an object"),
    "array": ("λίστα", "a list"),
}

_FORMATS = {
    "afm": (
        "ο ΑΦΜ πρέπει να έχει 9 ψηφία με σωστό ψηφίο ελέγχου· ελέγξτε τον.",
        "a tax number (AFM) has 9 digits with a valid check digit; please check it.",
    ),
    "amka": (
        "ο ΑΜΚΑ έχει 11 ψηφία (ημερομηνία γέννησης ΗΗΜΜΕΕ και 5 ακόμη)· ελέγξτε τον.",
        "an AMKA has 11 digits (birth date DDMMYY and 5 more); please check it.",
    ),
    "gr-phone": (
        "γράψτε ελληνικό αριθμό τηλεφώνου, π.χ. 6912345678.",
        "write a Greek phone number, e.g. 6912345678.",
    ),
    "date": ("γράψτε ημερομηνία ως ΕΕΕΕ-ΜΜ-ΗΗ.", "write a date as YYYY-MM-DD."),
    "email": (
        "γράψτε μια διεύθυνση email, π.χ. onoma@example.gr.",
        "write an email address, e.g. name@example.gr.",
    ),
}


def _limits(error: ValidationError) -> tuple[str, str]:
    value: Any = error.validator_value
    kind = error.validator
    if kind == "minLength":
        return f"τουλάχιστον {value} χαρακτήρες.", f"at least {value} characters."
    if kind == "maxLength":
        return f"το πολύ {value} χαρακτήρες.", f"at most {value} characters."
    if kind == "minimum":
        return f"τουλάχιστον {value}.", f"at least {value}."
    if kind == "maximum":
        return f"το πολύ {value}.", f"at most {value}."
    if kind == "exclusiveMinimum":
        return f"μεγαλύτερο από {value}.", f"more than {value}."
    if kind == "exclusiveMaximum":
        return f"μικρότερο από {value}.", f"less than {value}."
    if kind == "pattern":
        return "η μορφή δεν είναι σωστή· δείτε το παράδειγμα.", "the format is not right; see the example."
    if kind == "format":
        return _FORMATS.get(str(value), ("μη έγκυρη τιμή.", "not a valid value."))
    if kind == "type":
        names = value if isinstance(value, list) else [value]
        el = " ή ".join(_TYPES.get(n, (n, n))[0] for n in names)
        en = " or ".join(_TYPES.get(n, (n, n))[1] for n in names)
        return f"πρέπει να είναι {el}.", f"must be {en}."
    return "μη έγκυρη τιμή.", "not a valid value."


def translate_schema_error(service: Service, error: ValidationError) -> Iterator[FieldError]:
    """The FieldErrors a jsonschema error stands for, labelled with the form's field names."""
    path = [str(part) for part in error.absolute_path]
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        for name in error.validator_value:
            if name not in instance:
                yield FieldError(
                    ".".join([*path, name]),
                    f"{service.field_label(name, 'el')}: υποχρεωτικό πεδίο· συμπληρώστε το.",
                    f"{service.field_label(name, 'en')}: required; please fill it in.",
                )
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(service.form_schema.get("properties", {}))
        for name in sorted(set(instance) - known):
            shown = name[:64]
            yield FieldError(
                ".".join([*path, shown]),
                f"Άγνωστο πεδίο {shown!r}· αφαιρέστε το.",
                f"Unknown field {shown!r}; remove it.",
            )
        return
    field = ".".join(path)
    top = path[0] if path else ""
    label_el, label_en = service.field_label(top, "el"), service.field_label(top, "en")
    if error.validator in ("enum", "const"):
        options = service.ui["fields"].get(top, {}).get("options", {})
        allowed_el = ", ".join(o["el"] for o in options.values()) or ", ".join(
            map(str, error.validator_value)
        )
        allowed_en = ", ".join(o["en"] for o in options.values()) or ", ".join(
            map(str, error.validator_value)
        )
        yield FieldError(
            field, f"{label_el}: επιλέξτε ένα από: {allowed_el}.", f"{label_en}: choose one of: {allowed_en}."
        )
        return
    el, en = _limits(error)
    yield FieldError(field, f"{label_el}: {el}", f"{label_en}: {en}")
