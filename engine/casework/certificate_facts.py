"""The facts a certificate will state, and the clerk's corrections to them before approval.

A certificate states the municipality's verified facts, not only what the applicant typed:
while a certificate request is being prepared (its open task is a step that an approval step
names as prepared before it — ``polis:fourEyesAfter``), the clerk who may work that task can
correct the stated facts (the registry's spelling of the surname, the address on record). Each
change is validated against the service's form, audited ("X corrected F: old → new") and kept in
the case data (``certified_facts``), which the preview, the head's approval page and the sealed
certificate read. Once the case is proposed for approval nobody can change them: a head who
disagrees returns it to the clerk.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from engine.issuing.stated_facts import CERTIFIED_FACTS, stated_fields
from engine.workflow.commands import actor_of, check_may_work, preparation_steps
from engine.workflow.directory import Performer
from engine.workflow.errors import TaskForbidden, TaskNotFound
from engine.workflow.models import AuditEvent, Case
from engine.workflow.runtime import human_tasks, lock_task, save_case
from forms.catalogue import UnknownService, get_service
from forms.services import Service
from forms.submission_errors import FieldError
from forms.submissions import check_submission

CORRECTED = "facts_corrected"
MAX_CHARS = 300


class FactsInvalid(InvalidInput):
    """A corrected fact does not fit the service's form; nothing was changed."""

    code = "facts_invalid"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.en}" for e in errors) + ". Nothing was changed.")
        self.errors = errors


@dataclass(frozen=True)
class StatedFact:
    """One fact the certificate states: what the applicant gave and what will be printed."""

    name: str
    label: str
    applicant_value: str
    value: str
    #: (value, label) pairs when the fact is a choice; () for text.
    options: tuple[tuple[str, str], ...] = ()

    @property
    def corrected(self) -> bool:
        """Whether the clerk changed it from what the applicant gave."""
        return self.value != self.applicant_value


@dataclass(frozen=True)
class Correction:
    """One audited correction, for the head's view: who changed which fact from what to what."""

    label: str
    old: str
    new: str
    who: str


def _service(case: Case | Mapping[str, Any]) -> Service | None:
    data = case.data if isinstance(case, Case) else case
    code = (data or {}).get("service_code")
    if not code:
        return None
    try:
        service = get_service(str(code))
    except UnknownService:
        return None
    return service if service.process == "certificate_issuance" else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _typed(service: Service, name: str, value: str) -> Any:
    """A corrected value as the form's schema types it (numbers stay numbers); text otherwise,
    so the form's own check can say what is wrong with it."""
    kind = (service.form_schema.get("properties", {}).get(name) or {}).get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value.replace(",", ".")) if not value.lstrip("-").isdigit() else int(value)
    except ValueError:
        return value
    return value


def stated_facts(case: Case, locale: str) -> list[StatedFact]:
    """The facts the case's certificate will state, labelled; [] if it issues no certificate."""
    service = _service(case)
    if service is None:
        return []
    form = (case.data or {}).get("form") or {}
    corrected = (case.data or {}).get(CERTIFIED_FACTS) or {}
    language = "en" if locale == "en" else "el"
    facts = []
    for name in stated_fields(service):
        ui = service.ui.get("fields", {}).get(name, {})
        choices = (ui.get("options") or {}).items()
        options = tuple((str(value), str(labels.get(language, value))) for value, labels in choices)
        facts.append(
            StatedFact(
                name=name,
                label=service.field_label(name, locale),
                applicant_value=_text(form.get(name)),
                value=_text(corrected.get(name, form.get(name))),
                options=options,
            )
        )
    return facts


def correct_certificate_facts(
    session: Session, task_id: uuid.UUID, values: Mapping[str, str], user: Performer
) -> list[str]:
    """Correct the facts the case's certificate will state; the names of the facts changed.

    Only while ``task_id`` is an open preparation step of the case and ``user`` may work it.
    ``values`` maps stated facts to what the certificate must say ("" = the applicant's value);
    an unknown field, or a value the service's form refuses, changes nothing (FactsInvalid).
    """
    locked = lock_task(session, task_id)
    if locked is None:
        raise TaskNotFound("This task is no longer open; the facts can no longer be corrected here.")
    case, row = locked
    check_may_work(session, user, row)
    if row.bpmn_id not in preparation_steps(case.definition):
        raise TaskForbidden(
            "the facts can be corrected only while the request is being prepared, before it is "
            "proposed for approval; the head can return it to the clerk."
        )
    service = _service(case.data)
    if service is None:
        raise InvalidInput("This case issues no certificate; there are no facts to correct.")
    stated = stated_fields(service)
    unknown = sorted(set(values) - set(stated))
    if unknown:
        raise InvalidInput(f"{', '.join(unknown)}: not a fact the certificate states. Nothing was changed.")
    form = dict(case.data.get("form") or {})
    corrected = dict(case.data.get(CERTIFIED_FACTS) or {})
    before = {**form, **corrected}
    wanted = dict(corrected)
    for name, raw in values.items():
        value = " ".join(str(raw).split())[:MAX_CHARS]
        if not value or value == _text(form.get(name)):
            wanted.pop(name, None)  # back to what the applicant gave
        else:
            wanted[name] = _typed(service, name, value)
    after = {**form, **wanted}
    changed = [name for name in stated if _text(before.get(name)) != _text(after.get(name))]
    if not changed:
        return []
    problems = [e for e in check_submission(service, after) if e.field in changed]
    if problems:
        raise FactsInvalid(problems)
    for name in changed:
        case.record(
            CORRECTED,
            task_id,
            field=name,
            label_el=service.field_label(name, "el"),
            label_en=service.field_label(name, "en"),
            old=_text(before.get(name)),
            new=_text(after.get(name)),
        )
    case.data[CERTIFIED_FACTS] = wanted
    # The open steps carry the corrections on through the flow, to the certificate's rendering.
    for task in human_tasks(case):
        task.data[CERTIFIED_FACTS] = dict(wanted)
    save_case(session, case, actor_of(user))
    return changed


def corrections(session: Session, case_id: uuid.UUID, locale: str) -> list[Correction]:
    """The case's audited fact corrections, oldest first (for the head who approves)."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id, AuditEvent.action == CORRECTED)
        .order_by(AuditEvent.seq)
    )
    key = "label_en" if locale == "en" else "label_el"
    return [
        Correction(
            label=str(e.details.get(key) or e.details.get("field")),
            old=str(e.details.get("old", "")),
            new=str(e.details.get("new", "")),
            who=e.actor,
        )
        for e in events
    ]


def corrected_cases(session: Session, case_ids: set[uuid.UUID], locale: str) -> dict[uuid.UUID, list[str]]:
    """For a list of cases (the approval queue): the labels of the facts each had corrected."""
    if not case_ids:
        return {}
    key = "label_en" if locale == "en" else "label_el"
    found: dict[uuid.UUID, list[str]] = {}
    for case_id, details in session.execute(
        select(AuditEvent.case_id, AuditEvent.details)
        .where(AuditEvent.case_id.in_(case_ids), AuditEvent.action == CORRECTED)
        .order_by(AuditEvent.case_id, AuditEvent.seq)
    ):
        label = str(details.get(key) or details.get("field"))
        labels = found.setdefault(case_id, [])
        if label not in labels:
            labels.append(label)
    return found
