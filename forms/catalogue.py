"""The catalogue of services citizens can request, read from ``forms/catalogue/<code>/``.

Each folder holds a ``service.json`` (form, attachments, fee, deadline, validity,
department, process) and the certificate template it names. Adding a service is adding a
folder: the whole catalogue is loaded and checked once at start, and every problem is
reported with the file and the field to fix. Submissions are validated here, on the server,
always; the messages come in Greek and English.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from core.errors import ConfigurationError, NotFound
from forms.service_schema import SERVICE_SCHEMA
from forms.services import (
    FORMAT_CHECKER,
    AttachmentInfo,
    AttachmentSpec,
    FormRule,
    LocalText,
    Service,
)
from forms.submission_errors import FieldError
from forms.submissions import check_submission

__all__ = [
    "CATALOGUE_DIR",
    "AttachmentInfo",
    "AttachmentSpec",
    "Catalogue",
    "CatalogueError",
    "FieldError",
    "FormRule",
    "LocalText",
    "Service",
    "UnknownService",
    "default_catalogue",
    "get_service",
    "list_services",
    "load_catalogue",
    "load_service",
    "validate_submission",
]

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
SERVICE_FILE = "service.json"
_META_VALIDATOR = Draft202012Validator(SERVICE_SCHEMA)


class CatalogueError(ConfigurationError):
    """The catalogue on disk is broken; the message names each file and field to fix."""


class UnknownService(NotFound):
    """No service with this code in the catalogue."""

    code = "unknown_service"


class Catalogue:
    """All services, by code."""

    def __init__(self, services: Iterable[Service]) -> None:
        """Index ``services`` by code."""
        self._services = {service.code: service for service in services}

    def get(self, code: str) -> Service:
        """The service ``code``, or UnknownService naming the codes that exist."""
        service = self._services.get(code) if isinstance(code, str) else None
        if service is None:
            raise UnknownService(
                f"There is no service {str(code)[:64]!r}. Use one of: {', '.join(sorted(self._services))}."
            )
        return service

    def all(self) -> list[Service]:
        """Every service, ordered by code."""
        return [self._services[code] for code in sorted(self._services)]


# Loading ------------------------------------------------------------------------------


def _where(path: Sequence[Any]) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _local(value: Mapping[str, str]) -> LocalText:
    return LocalText(el=value["el"], en=value["en"])


def _formats_in(schema: Any) -> Iterable[str]:
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str):
            yield schema["format"]
        for value in schema.values():
            yield from _formats_in(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _formats_in(value)


def _check_form(doc: Mapping[str, Any], problems: list[str]) -> None:
    schema = doc["form"]["schema"]
    ui = doc["form"]["ui"]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        problems.append(f"form.schema.{_where(exc.absolute_path)}: not valid JSON Schema: {exc.message}")
        return
    properties = set(schema["properties"])
    for name in schema.get("required", []):
        if name not in properties:
            problems.append(f"form.schema.required: {name!r} is required but not in properties.")
    unknown_formats = set(_formats_in(schema)) - set(FORMAT_CHECKER.checkers)
    for name in sorted(unknown_formats):
        problems.append(
            f"form.schema: unknown format {name!r}; known formats are {sorted(FORMAT_CHECKER.checkers)}."
        )
    order = ui["order"]
    for name in sorted(properties - set(order)):
        problems.append(f"form.ui.order: field {name!r} is missing; list every field once.")
    for name in sorted(set(order) - properties):
        problems.append(f"form.ui.order: {name!r} is not a field of form.schema.properties.")
    fields = ui["fields"]
    for name in sorted(properties - set(fields)):
        problems.append(f"form.ui.fields.{name}: missing; every field needs a label in el and en.")
    for name in sorted(set(fields) - properties):
        problems.append(f"form.ui.fields.{name}: not a field of form.schema.properties.")
    for index, rule in enumerate(doc["form"].get("rules", [])):
        for key in ("field", "other"):
            spec = schema["properties"].get(rule[key])
            if spec is None or spec.get("format") != "date":
                problems.append(f"form.rules.{index}.{key}: {rule[key]!r} must be a date field of the form.")
    groups = set(ui.get("groups", {}))
    for name, field in fields.items():
        if "group" in field and field["group"] not in groups:
            problems.append(f"form.ui.fields.{name}.group: {field['group']!r} is not in form.ui.groups.")
        enum = schema["properties"].get(name, {}).get("enum")
        if enum is not None:
            missing = [value for value in enum if value not in field.get("options", {})]
            if missing:
                problems.append(f"form.ui.fields.{name}.options: no labels for {missing}.")


def _check_routing(doc: Mapping[str, Any], problems: list[str]) -> None:
    routing = doc.get("routing")
    if routing is None:
        return
    spec = doc["form"]["schema"]["properties"].get(routing["field"])
    if spec is None or "enum" not in spec:
        problems.append(f"routing.field: {routing['field']!r} must be a field of the form with an enum.")
        return
    for value in sorted(set(spec["enum"]) - set(routing["departments"])):
        problems.append(f"routing.departments: no department for the answer {value!r}.")
    if routing["field"] not in doc["form"]["schema"].get("required", []):
        problems.append(f"routing.field: {routing['field']!r} must be a required field.")


def _check_subject_field(doc: Mapping[str, Any], problems: list[str]) -> None:
    name = doc.get("subject_field")
    if name is None:
        return
    spec = doc["form"]["schema"]["properties"].get(name)
    if spec is None or spec.get("type") != "string" or "maxLength" not in spec:
        problems.append(f"subject_field: {name!r} must be a text field of the form with a maxLength.")
    elif name not in doc["form"]["schema"].get("required", []):
        problems.append(f"subject_field: {name!r} must be a required field.")


def _check_attachments(doc: Mapping[str, Any], problems: list[str]) -> None:
    seen: set[str] = set()
    for index, spec in enumerate(doc["attachments"]):
        if spec["key"] in seen:
            problems.append(f"attachments.{index}.key: {spec['key']!r} is used twice.")
        seen.add(spec["key"])


def _check_template(folder: Path, doc: Mapping[str, Any], problems: list[str]) -> None:
    template = folder / doc["certificate_template"]
    if not template.is_file():
        problems.append(f"certificate_template: {template.name!r} does not exist in {folder}.")
        return
    try:
        jinja2.Environment(autoescape=True).parse(template.read_text(encoding="utf-8"))
    except jinja2.TemplateSyntaxError as exc:
        problems.append(f"certificate_template: {template.name} line {exc.lineno}: {exc.message}.")


def load_service(folder: Path) -> Service:
    """Read and check one service folder; CatalogueError lists every problem found."""
    path = folder / SERVICE_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogueError(f"{path}: missing; each catalogue folder needs a {SERVICE_FILE}.") from exc
    except json.JSONDecodeError as exc:
        raise CatalogueError(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}."
        ) from exc
    problems = [
        f"{_where(error.absolute_path)}: {error.message}"
        for error in sorted(_META_VALIDATOR.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if not problems:
        if doc["code"] != folder.name:
            problems.append(f"code: {doc['code']!r} must equal the folder name {folder.name!r}.")
        _check_form(doc, problems)
        _check_routing(doc, problems)
        _check_subject_field(doc, problems)
        _check_attachments(doc, problems)
        _check_template(folder, doc, problems)
    if problems:
        raise CatalogueError(f"{path}:\n  " + "\n  ".join(problems))
    return Service(
        code=doc["code"],
        title=_local(doc["title"]),
        description=_local(doc["description"]),
        department=doc["department"],
        routing=(doc["routing"]["field"], dict(doc["routing"]["departments"])) if "routing" in doc else None,
        subject_field=doc.get("subject_field"),
        process=doc["process"],
        fee_eur=Decimal(str(doc["fee_eur"])).quantize(Decimal("0.01")),
        deadline_working_days=doc["deadline_working_days"],
        validity_months=doc["validity_months"],
        certificate_template=folder / doc["certificate_template"],
        form_schema=doc["form"]["schema"],
        ui=doc["form"]["ui"],
        attachments=tuple(
            AttachmentSpec(
                key=spec["key"],
                label=_local(spec["label"]),
                help=_local(spec["help"]) if "help" in spec else None,
                required=spec["required"],
                mime_types=tuple(spec["mime_types"]),
                max_bytes=spec["max_bytes"],
                max_files=spec.get("max_files", 1),
            )
            for spec in doc["attachments"]
        ),
        rules=tuple(FormRule(**rule) for rule in doc["form"].get("rules", [])),
        anonymous=bool(doc.get("anonymous", False)),
        category=doc.get("category", "administration"),
        eligibility=_local(doc["eligibility"]) if "eligibility" in doc else None,
        delivery=tuple(doc.get("delivery", ["download"])),
    )


def load_catalogue(root: Path = CATALOGUE_DIR) -> Catalogue:
    """Load every ``<root>/<code>/`` folder (names starting with _ or . are shared files)."""
    if not root.is_dir():
        raise CatalogueError(f"The service catalogue {root} does not exist.")
    services, problems = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        try:
            services.append(load_service(folder))
        except CatalogueError as exc:
            problems.append(exc.message)
    if problems:
        raise CatalogueError("The service catalogue has errors:\n" + "\n".join(problems))
    if not services:
        raise CatalogueError(f"The service catalogue {root} has no services; add a folder per service.")
    return Catalogue(services)


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The catalogue shipped in forms/catalogue, loaded once."""
    return load_catalogue()


def get_service(code: str) -> Service:
    """The service ``code`` of the default catalogue, or UnknownService."""
    return default_catalogue().get(code)


def list_services() -> list[Service]:
    """Every service of the default catalogue, ordered by code."""
    return default_catalogue().all()


# Submissions ----------------------------------------------------------------------------


def validate_submission(
    code: str,
    data: Any,
    attachments_meta: Sequence[AttachmentInfo | Mapping[str, Any]] = (),
    *,
    catalogue: Catalogue | None = None,
) -> list[FieldError]:
    """Every problem with a submission of service ``code`` (empty list = acceptable).

    ``attachments_meta`` describes the uploaded files (key, filename, sniffed content
    type, size). An unknown ``code`` raises UnknownService.
    """
    service = (catalogue or default_catalogue()).get(code)
    return check_submission(service, data, attachments_meta)
