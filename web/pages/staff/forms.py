"""Task forms drawn from their JSON Schema, with field labels, choices and messages in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from forms.schemas import FieldProblem


def _(text: str, **values: object) -> str:
    return str(gettext(text, **values))


FIELD_LABELS = {
    "decision": _l("Decision"),
    "requested_document": _l("Document to ask the citizen for"),
    "reason": _l("Reason the citizen will read"),
    "note": _l("Note for the file"),
    "comment": _l("Comment for the clerk"),
    "title": _l("Title"),
    "body": _l("Text"),
    "reply": _l("Reply to the citizen"),
    "unregistered_count": _l("Unregistered incoming documents"),
    "facts_confirmed": _l("I checked the facts the certificate will state against the municipal records"),
}
FIELD_HINTS = {
    "requested_document": _l("Only when you ask the citizen for a document."),
    "reason": _l("Needed when you propose rejection or reject."),
    "comment": _l("Needed when you return the case to the clerk."),
    "note": _l("Kept in the case history; the citizen does not see it."),
}
CHOICES = {
    "propose_approval": _l("Propose approval"),
    "ask_citizen": _l("Ask the citizen for a document"),
    "propose_rejection": _l("Propose rejection"),
    "approve": _l("Approve"),
    "return": _l("Return to the clerk"),
    "reject": _l("Reject"),
    "reply": _l("Reply to the citizen"),
    "close": _l("Close without reply"),
    "refer_to_head": _l("Refer to the head"),
}


@dataclass(frozen=True)
class FormField:
    """One field of a task form, ready for the field macro."""

    name: str
    label: str
    kind: str  # radios, textarea, text, number
    required: bool
    hint: str | None = None
    options: tuple[tuple[str, str], ...] = ()


def form_fields(schema: dict[str, Any] | None) -> list[FormField]:
    """The fields of a task's JSON Schema, in order, labelled in the reader's language."""
    if not schema:
        return []
    required = set(schema.get("required", []))
    fields = []
    for name, spec in schema.get("properties", {}).items():
        label = str(FIELD_LABELS.get(name, spec.get("title", name)))
        hint = FIELD_HINTS.get(name)
        if "enum" in spec:
            options = tuple((str(v), str(CHOICES.get(str(v), v))) for v in spec["enum"])
            fields.append(FormField(name, label, "radios", name in required, None, options))
        elif spec.get("type") == "boolean":
            fields.append(FormField(name, label, "checkbox", False, str(hint) if hint else None))
        elif spec.get("type") in ("integer", "number"):
            fields.append(FormField(name, label, "number", name in required, str(hint) if hint else None))
        elif spec.get("maxLength", 10_000) <= 300:
            fields.append(FormField(name, label, "text", name in required, str(hint) if hint else None))
        else:
            fields.append(FormField(name, label, "textarea", name in required, str(hint) if hint else None))
    return fields


def form_data(schema: dict[str, Any] | None, posted: Any) -> dict[str, Any]:
    """The posted values the schema knows, typed; empty answers left out."""
    data: dict[str, Any] = {}
    for name, spec in ((schema or {}).get("properties") or {}).items():
        raw = posted.get(name, "")
        value = raw.strip() if isinstance(raw, str) else raw
        if value in ("", None):
            continue
        if spec.get("type") == "boolean":
            value = value in ("true", "1", "on", True)
            if not value:
                continue
        elif spec.get("type") == "integer" and isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)  # anything else stays text: the schema check says "whole number"
        data[name] = value
    return data


def unconfirmed_facts(schema: dict[str, Any] | None, data: dict[str, Any]) -> bool:
    """Whether a certificate review proposes approval without confirming the facts first.

    The certificate states the municipality's verified facts, not only what the applicant typed:
    the pages ask the clerk to confirm them before proposing approval.
    """
    properties = (schema or {}).get("properties") or {}
    return (
        "facts_confirmed" in properties
        and data.get("decision") == "propose_approval"
        and data.get("facts_confirmed") is not True
    )


def problem_text(problem: FieldProblem) -> str:
    """What is wrong with a field and how to fix it, in the reader's language."""
    if problem.kind == "required":
        return _("Fill in this field.") if problem.field != "decision" else _("Choose a decision.")
    if problem.kind == "too_short":
        return _("Write at least %(n)s characters.", n=problem.limit)
    if problem.kind == "too_long":
        return _("Write at most %(n)s characters.", n=problem.limit)
    if problem.kind == "choice":
        return _("Choose one of the options.")
    if problem.kind == "unexpected":
        return _("This field is not part of the form.")
    return _("Check the format of this field.")


def typed_answers(values: dict[str, Any]) -> list[tuple[str, str]]:
    """What someone typed into a task form, as labelled answers in words (kept on a conflict)."""
    answers = []
    for name, value in values.items():
        label = FIELD_LABELS.get(name)
        choice = CHOICES.get(str(value))
        answers.append((str(label) if label else name, str(choice) if choice else str(value)))
    return answers
