"""What the staff workspace pages show beyond the API's reads: one call per page.

The task page (request facts from the service's form, files, history, four-eyes, who it waits
on), files and certificate previews a member of staff may open, the case diagram with its
completed path, and the per-element counts of each deployed process. Access checks are the
same as the staff API's (engine.casework.desk).
"""

from __future__ import annotations

import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import InvalidInput, NotFound, PolisError, ServiceUnavailable
from engine.casework.certificate_facts import Correction, StatedFact, corrections, stated_facts
from engine.casework.desk import TaskDetail, task_detail, user_names
from engine.issuing.certificates import CertificateContext, render_certificate_pdf
from engine.issuing.registry import verification_path
from engine.issuing.stated_facts import certified_form
from engine.people.models import Department, User
from engine.people.visibility import get_case
from engine.requests.files import case_files
from engine.requests.models import CaseFile
from engine.workflow.commands import complete_task, preparation_steps, preparer_of
from engine.workflow.definitions import load_definition
from engine.workflow.models import AuditEvent, Case, CaseTask, ProcessDefinition
from engine.workflow.serialization import state_from_json
from forms.catalogue import UnknownService, get_service
from forms.services import Service

PREVIEW_CODE = "ΠΡΟΕΠΙΣΚΟΠΗΣΗ"


@dataclass(frozen=True)
class Fact:
    """One labelled value of a request, as the applicant gave it."""

    label: str
    value: str


@dataclass(frozen=True)
class TaskPage:
    """Everything the task page shows, read in one place."""

    detail: TaskDetail
    service: Service | None
    facts: list[Fact]
    files: list[CaseFile]
    history: list[AuditEvent]
    department: Department | None
    #: Set when the user prepared this case and the task is its approval (four-eyes rule).
    prepared_by_user: bool
    has_certificate: bool
    protocol_in: str | None
    #: The facts the certificate will state (corrections applied); [] if it issues none.
    stated_facts: list[StatedFact] = field(default_factory=list)
    #: Whether this user may correct them now (preparing the case, before approval).
    may_correct_facts: bool = False
    #: The corrections made so far, for whoever decides on the case.
    corrections: list[Correction] = field(default_factory=list)


@dataclass(frozen=True)
class DiagramState:
    """A case's process drawing and where the case has been and is now."""

    xml: str
    completed: list[str]
    current: list[str]


@dataclass(frozen=True)
class ProcessSummary:
    """A deployed process: its versions and how many open items wait at each element."""

    process_id: str
    name: str
    versions: list[tuple[int, datetime]]
    waiting: dict[str, int] = field(default_factory=dict)
    open_cases: int = 0
    #: The names of the newest version's activities, by element id (for lists of steps).
    titles: dict[str, str] = field(default_factory=dict)


def service_of(case: Case) -> Service | None:
    """The catalogue service a citizen's request case was made for (None for internal cases)."""
    code = (case.data or {}).get("service_code")
    if not code:
        return None
    try:
        return get_service(str(code))
    except UnknownService:
        return None


def request_facts(service: Service | None, form: dict[str, Any], locale: str) -> list[Fact]:
    """The request's form as labelled values, in the form's order, choices in words."""
    if not form:
        return []
    if service is None:
        return [Fact(name, _plain(value)) for name, value in form.items()]
    fields = service.ui.get("fields", {})
    order = [name for name in service.form_schema.get("properties", {}) if name in form]
    order += [name for name in form if name not in order]
    facts = []
    for name in order:
        value = form[name]
        options = fields.get(name, {}).get("options")
        if options and str(value) in options:
            value = options[str(value)].get("en" if locale == "en" else "el", value)
        facts.append(Fact(service.field_label(name, locale), _plain(value)))
    return facts


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "✓" if value else "—"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def task_page(session: Session, task_id: uuid.UUID, user: User, locale: str) -> TaskPage:
    """The task, its case's request, files and history, for a user who may see the task."""
    detail = task_detail(session, task_id, user)
    case = detail.case
    service = service_of(case)
    definition = load_definition(session, case.definition_id)
    prepared_by = preparer_of(session, case.id, definition, detail.task.bpmn_id)
    history = list(
        session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq))
    )
    protocol = (case.data or {}).get("protocol_in") or {}
    task = detail.task
    may_work = task.assignee_id in (user.id, user.acting_for_id) or (
        task.assignee_id is None and task.department_id == user.department_id and task.role in user.roles
    )
    facts = stated_facts(case, locale)
    return TaskPage(
        detail=detail,
        service=service,
        facts=request_facts(service, (case.data or {}).get("form") or {}, locale),
        files=case_files(session, case.id),
        history=history,
        department=session.get(Department, detail.task.department_id) if detail.task.department_id else None,
        prepared_by_user=prepared_by is not None and prepared_by == user.id,
        has_certificate=service is not None and service.process == "certificate_issuance",
        protocol_in=protocol.get("display"),
        stated_facts=facts,
        may_correct_facts=bool(facts) and may_work and task.bpmn_id in preparation_steps(definition),
        corrections=corrections(session, case.id, locale) if facts else [],
    )


def case_file_for(session: Session, case_id: uuid.UUID, file_id: uuid.UUID, user: User) -> CaseFile:
    """A file of a case the user may see."""
    get_case(session, case_id, user)
    found = session.get(CaseFile, file_id)
    if found is None or found.case_id != case_id:
        raise NotFound("That file is not part of this case; open the case to see its files.")
    return found


def certificate_preview_pdf(
    session: Session, case_id: uuid.UUID, user: User, *, municipality_name: str, base_url: str
) -> bytes:
    """The certificate as it will be issued from the case's data now, marked as a preview.

    The protocol number and verification code are given when the head approves, so the
    preview shows placeholders there; everything else is what the citizen will receive.
    """
    case = get_case(session, case_id, user)
    service = service_of(case)
    if service is None or service.process != "certificate_issuance":
        raise NotFound("This case does not issue a certificate; there is nothing to preview.")
    department = session.get(Department, case.department_id) if case.department_id else None
    return render_certificate_pdf(
        service,
        certified_form(case.data or {}),
        CertificateContext(
            municipality_name=municipality_name,
            case_number=case.number,
            issued_at=utcnow(),
            verification_url=base_url.rstrip("/") + verification_path(PREVIEW_CODE),
            verification_code=PREVIEW_CODE,
            department_name=department.name_el if department is not None else "",
        ),
    )


def pdf_first_page_png(pdf: bytes, resolution: int = 90) -> bytes:
    """The first page of a PDF as a PNG (poppler's pdftoppm), for previews that work on phones."""
    with tempfile.TemporaryDirectory(prefix="polis-preview-") as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(pdf)
        try:
            subprocess.run(
                ["pdftoppm", "-png", "-r", str(resolution), "-f", "1", "-l", "1", "-singlefile",
                 str(source), str(Path(folder) / "page")],
                check=True,
                capture_output=True,
                timeout=30,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            raise ServiceUnavailable(
                "Could not draw a preview of the PDF (poppler-utils' pdftoppm); download the file instead."
            ) from exc
        return (Path(folder) / "page.png").read_bytes()


def case_diagram(session: Session, case_id: uuid.UUID, user: User) -> DiagramState:
    """The case's BPMN drawing with the elements it completed and those it waits at now."""
    case = get_case(session, case_id, user)
    row = session.get(ProcessDefinition, case.definition_id)
    assert row is not None  # a foreign key
    definition = load_definition(session, row.id, row.content_hash, row.version)
    workflow = state_from_json(case.state, definition.spec, definition.subprocess_specs)
    completed: list[str] = []
    current: list[str] = []
    for sub in [workflow, *workflow.subprocesses.values()]:
        for task in sub.tasks.values():
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if not bpmn_id:
                continue
            if task.state == TaskState.COMPLETED:
                completed.append(bpmn_id)
            elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED):
                current.append(bpmn_id)
    return DiagramState(
        xml=row.original_xml.decode("utf-8"),
        completed=sorted(set(completed) - set(current)),
        current=sorted(set(current)),
    )


def process_overview(session: Session) -> list[ProcessSummary]:
    """Every deployed process with its versions and the open tasks waiting at each element."""
    versions: dict[str, list[tuple[int, datetime]]] = {}
    names: dict[str, str] = {}
    for definition in session.scalars(
        select(ProcessDefinition).order_by(ProcessDefinition.process_id, ProcessDefinition.version.desc())
    ):
        versions.setdefault(definition.process_id, []).append((definition.version, definition.deployed_at))
        names.setdefault(definition.process_id, definition.name)
    waiting: dict[str, dict[str, int]] = {}
    for process_id, bpmn_id, count in session.execute(
        select(CaseTask.process_id, CaseTask.bpmn_id, func.count()).group_by(
            CaseTask.process_id, CaseTask.bpmn_id
        )
    ):
        waiting.setdefault(process_id, {})[bpmn_id] = count
    open_cases = dict(
        session.execute(
            select(Case.process_id, func.count()).where(Case.status == "active").group_by(Case.process_id)
        ).all()
    )
    return [
        ProcessSummary(pid, names[pid], versions[pid], waiting.get(pid, {}), open_cases.get(pid, 0))
        for pid in versions
    ]


def process_drawing(session: Session, process_id: str) -> tuple[ProcessSummary, str]:
    """One process's summary and the drawing of its newest version."""
    summary = next((p for p in process_overview(session) if p.process_id == process_id), None)
    if summary is None:
        raise NotFound(f"No deployed process {process_id!r}; see the list of processes.")
    newest = session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).one()
    titles = {key: str(info.get("title") or key) for key, info in newest.tasks.items()}
    return replace(summary, titles=titles), newest.original_xml.decode("utf-8")


def names_of(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Full names by user id (assignees, actors)."""
    return user_names(session, ids)


def department_choices(session: Session) -> list[Department]:
    """Every department, for "forward to" lists."""
    return list(session.scalars(select(Department).order_by(Department.code)))


def department_clerks(session: Session, department_id: uuid.UUID | None, role: str) -> list[User]:
    """Active members of a department who hold ``role`` (for "assign to" lists)."""
    if department_id is None:
        return []
    users = session.scalars(
        select(User)
        .where(User.department_id == department_id, User.is_active.is_(True))
        .order_by(User.full_name)
    )
    return [u for u in users if role in u.roles]


def completed_by(session: Session, task_id: uuid.UUID) -> tuple[str, uuid.UUID] | None:
    """Who completed a task that is no longer open, and its case (None if nobody did)."""
    row = session.execute(
        select(AuditEvent.actor, AuditEvent.case_id).where(
            AuditEvent.task_id == task_id, AuditEvent.action == "task_completed"
        )
    ).first()
    return None if row is None else (row.actor, row.case_id)


@dataclass(frozen=True)
class BulkResult:
    """What happened to one task of a bulk approval."""

    task_id: uuid.UUID
    case_number: str | None
    title: str | None
    error: PolisError | None = None

    @property
    def ok(self) -> bool:
        """Whether the task was approved."""
        return self.error is None


def bulk_approve(factory: Any, task_ids: list[uuid.UUID], user_id: uuid.UUID) -> list[BulkResult]:
    """Approve each task in a transaction of its own: one failure leaves the others approved.

    Only tasks whose form has an ``approve`` decision can be approved in bulk; the rest fail
    with a reason, as do tasks a colleague took or completed meanwhile.
    """
    results = []
    for task_id in task_ids:
        session = factory()
        number = title = None
        try:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound("Your account no longer exists.")
            detail = task_detail(session, task_id, user)
            number, title = detail.case.number, detail.task.title
            choices = ((detail.form or {}).get("properties", {}).get("decision", {}) or {}).get("enum", [])
            if "approve" not in choices:
                raise InvalidInput(f"'{title}' is not an approval; open the task to complete it.")
            complete_task(session, task_id, {"decision": "approve"}, user)
            session.commit()
            results.append(BulkResult(task_id, number, title))
        except PolisError as error:
            session.rollback()
            results.append(BulkResult(task_id, number, title, error))
        finally:
            session.close()
    return results
