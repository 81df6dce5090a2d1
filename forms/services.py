"""The shape of a catalogue service once loaded: texts, attachments, rules, the form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from forms.greek_ids import make_format_checker

FORMAT_CHECKER = make_format_checker()


@dataclass(frozen=True)
class LocalText:
    """A text in Greek and English."""

    el: str
    en: str

    def get(self, locale: str) -> str:
        """The text in ``locale`` (Greek unless English is asked for)."""
        return self.en if locale == "en" else self.el


@dataclass(frozen=True)
class AttachmentSpec:
    """A kind of file a request takes: which types, how big, how many, required or not."""

    key: str
    label: LocalText
    help: LocalText | None
    required: bool
    mime_types: tuple[str, ...]
    max_bytes: int
    max_files: int


@dataclass(frozen=True)
class AttachmentInfo:
    """What the server knows about one uploaded file before accepting it (type sniffed)."""

    key: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class FormRule:
    """A check across two fields (see forms.service_schema.RULES)."""

    rule: str
    field: str
    other: str


#: The longest subject a request is registered under (the protocol register takes 1,000).
SUBJECT_MAX_CHARS = 500


@dataclass(frozen=True)
class Service:
    """One request type of the catalogue."""

    code: str
    title: LocalText
    description: LocalText
    department: str
    process: str
    fee_eur: Decimal
    deadline_working_days: int
    validity_months: int | None
    certificate_template: Path
    form_schema: Mapping[str, Any]
    ui: Mapping[str, Any]
    attachments: tuple[AttachmentSpec, ...]
    rules: tuple[FormRule, ...] = ()
    #: Whether citizens who are not signed in may submit it (only after confirming their email).
    anonymous: bool = False
    category: str = "administration"
    eligibility: LocalText | None = None
    delivery: tuple[str, ...] = ("download",)
    #: (form field, {answer: department code}): the answer picks the handling department.
    routing: tuple[str, Mapping[str, str]] | None = None
    #: The form field whose answer is the protocol entry's subject (see protocol_subject).
    subject_field: str | None = None

    def department_for(self, form: Mapping[str, Any]) -> str:
        """The code of the department that handles a request with this (valid) ``form``."""
        if self.routing is None:
            return self.department
        field, departments = self.routing
        return departments.get(str(form.get(field)), self.department)

    def protocol_subject(self, form: Mapping[str, Any]) -> str:
        """The subject a request with this (valid) ``form`` is registered under in the protocol:
        the citizen's own subject where the service names one (one line, at most
        SUBJECT_MAX_CHARS), else "Αίτηση «<title>»"."""
        own = " ".join(str(form.get(self.subject_field) or "").split()) if self.subject_field else ""
        if not own:
            return f"Αίτηση «{self.title.el}»"
        if len(own) > SUBJECT_MAX_CHARS:
            own = own[: SUBJECT_MAX_CHARS - 1].rstrip() + "…"
        return own

    def field_label(self, name: str, locale: str) -> str:
        """The label of form field ``name`` in ``locale`` (the name itself if unknown)."""
        field = self.ui["fields"].get(name)
        return str(field["label"]["en" if locale == "en" else "el"]) if field else name

    def attachment(self, key: str) -> AttachmentSpec | None:
        """The attachment kind ``key``, or None."""
        return next((spec for spec in self.attachments if spec.key == key), None)

    @cached_property
    def validator(self) -> Draft202012Validator:
        """A validator of this service's form data, with the Greek formats checked (built once)."""
        return Draft202012Validator(self.form_schema, format_checker=FORMAT_CHECKER)

    @property
    def requires_sign_in(self) -> bool:
        """Only signed-in citizens may submit it: the service does not take anonymous requests."""
        return not self.anonymous
