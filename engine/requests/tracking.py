"""What a citizen sees of their case: a public timeline, never a clerk's name or a comment.

The timeline comes from the case's audit log — the ``milestone`` events the runtime records
when the case reaches a node its BPMN file marks as a citizen-visible step — and from the
milestone names, labels and main path the process itself declares
(engine.workflow.bpmn.milestones, parsed once per definition version). No process's
vocabulary lives here: a new process gets a correct tracking page without code. Nothing
internal leaks: only milestone codes and labels, times, the expected date and what the
citizen must do.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from core.workdays import athens_date
from engine.protocol.models import ProtocolEntry
from engine.protocol.receipts import ensure_receipt, receipt_filename
from engine.requests.files import get_case_file
from engine.requests.models import CaseFile
from engine.workflow.bpmn.milestones import MilestoneLabel, ProcessMilestones
from engine.workflow.commands import DOCUMENT_ISSUED
from engine.workflow.definitions import load_definition
from engine.workflow.errors import CaseNotFound
from engine.workflow.models import AuditEvent, Case, ProcessDefinition
from forms.catalogue import UnknownService, get_service
from storage import ObjectStore

#: Tracking codes are secrets.token_urlsafe(24): 32 URL-safe characters.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
#: Audit actions the timeline reads (the milestones the runtime recorded).
_TRACKED_ACTIONS = ("milestone", DOCUMENT_ISSUED)
#: The message a supplied document sends to the case (engine.requests.supply).
SUPPLIED_MESSAGE = "document_supplied"

#: Status words (the case as a whole, not a step of its timeline).
LABELS: dict[str, tuple[str, str]] = {
    "under_review": ("Σε επεξεργασία", "Under review"),
    "waiting_for_you": ("Αναμένονται στοιχεία από εσάς", "Waiting for you"),
    "issued": ("Εκδόθηκε", "Issued"),
    "rejected": ("Απορρίφθηκε", "Rejected"),
    "cancelled": ("Ακυρώθηκε", "Cancelled"),
    "completed": ("Ολοκληρώθηκε", "Completed"),
}
#: The steps of a process that declares no milestones: every case is submitted and ends.
_GENERIC = ProcessMilestones(
    labels={
        "submitted": MilestoneLabel("Υποβλήθηκε", "Submitted", "Υποβολή", "Submission"),
        "completed": MilestoneLabel(*LABELS["completed"], "Ολοκλήρωση", "Completion"),
        "cancelled": MilestoneLabel(*LABELS["cancelled"], "Ακύρωση", "Cancellation"),
    }
)


@dataclass(frozen=True)
class Milestone:
    """One step of the public timeline: reached (with its time) or still ahead."""

    code: str
    at: datetime | None
    state: str = "done"  # done, current or next
    label: MilestoneLabel | None = None
    citizen_acts: bool = False

    def as_dict(self, locale: str = "el") -> dict[str, Any]:
        """JSON-ready, with the label in ``locale`` and the time in UTC (ISO 8601)."""
        label = self.label or MilestoneLabel(self.code, self.code, self.code, self.code)
        return {
            "code": self.code,
            "label": label.text(locale, ahead=self.at is None),
            "reached": self.at is not None,
            "at": self.at.isoformat() if self.at else None,
            "state": self.state,
            "now": label.now(locale) if self.state == "current" else "",
            "citizen_acts": self.citizen_acts,
        }


def build_timeline(
    milestones: ProcessMilestones, reached: list[tuple[str, datetime]], open_case: bool
) -> list[Milestone]:
    """The timeline of a case from the milestones it reached (its audit log) and those its
    process declares: each step done, current or next.

    A closed case shows only what happened. In an open one the current step is the last step
    reached if its node waits (a review, a wait for the citizen), otherwise the first step of
    the process's main path still ahead; steps of the main path beyond the furthest one reached
    follow as "next". A step reached again after others (a second review) shows again. Once a
    final outcome is reached (``polis:finalMilestones``) nothing is current or ahead.
    """
    steps: list[tuple[str, datetime | None]] = []
    for code, at in reached:
        if not steps or steps[-1][0] != code:
            steps.append((code, at))
    if steps and steps[-1][0] in milestones.final:  # decided: the last automatic steps may still run
        open_case = False
    if open_case:
        done = {code for code, _ in steps}
        furthest = max((milestones.path.index(c) for c, _ in steps if c in milestones.path), default=-1)
        steps += [(code, None) for code in milestones.path[furthest + 1 :] if code not in done]
    last = max((i for i, (_, at) in enumerate(steps) if at is not None), default=-1)
    if not open_case:
        current = len(steps)
    elif last >= 0 and steps[last][0] in milestones.dwelling:
        current = last
    else:
        current = last + 1
    return [
        Milestone(
            code,
            at,
            "done" if i < current else "current" if i == current else "next",
            milestones.label(code),
            code in milestones.citizen_acts,
        )
        for i, (code, at) in enumerate(steps)
    ]


@dataclass
class Tracking:
    """A case as its applicant may see it."""

    case_id: uuid.UUID
    case_number: str
    service_code: str
    service_title: tuple[str, str]
    status: str  # in_progress, waiting_for_you, issued, rejected, cancelled, completed
    submitted_at: datetime
    protocol_number: str | None
    expected_by: date | None
    timeline: list[Milestone]
    deadline_working_days: int | None = None
    protocol_out_number: str | None = None
    action_required: dict[str, Any] | None = None
    rejection_reason: str | None = None
    certificate: dict[str, Any] | None = None
    closed_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Documents issued to the applicant by other engines (an outgoing document addressed to
    #: the request): title, protocol number, registered_at, file_id, verification_code.
    issued_documents: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, locale: str = "el") -> dict[str, Any]:
        """JSON-ready (the web layer adds download links)."""
        el, en = self.service_title
        return {
            "case_number": self.case_number,
            "service": {"code": self.service_code, "title": en if locale == "en" else el},
            "status": self.status,
            "status_label": _status_label(self.status, locale),
            "submitted_at": self.submitted_at.isoformat(),
            "protocol_number": self.protocol_number,
            "protocol_out_number": self.protocol_out_number,
            "deadline_working_days": self.deadline_working_days,
            "expected_by": self.expected_by.isoformat() if self.expected_by else None,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "action_required": self.action_required,
            "rejection_reason": self.rejection_reason,
            "timeline": [m.as_dict(locale) for m in self.timeline],
            "issued_documents": [
                {k: d.get(k) for k in ("title", "protocol_number", "registered_at", "verification_code")}
                | {"file_id": d.get("file_id")}
                for d in self.issued_documents
            ],
        }


def _status_label(status: str, locale: str) -> str:
    code = {"in_progress": "under_review"}.get(status, status)
    el, en = LABELS[code]
    return en if locale == "en" else el


def find_by_tracking_code(session: Session, tracking_code: str) -> Case:
    """The case of a tracking code; CaseNotFound for anything else (malformed codes included)."""
    if not isinstance(tracking_code, str) or not CODE_PATTERN.match(tracking_code):
        raise CaseNotFound("No request has this tracking code; check the link you received.")
    case = session.scalar(select(Case).where(Case.tracking_code == tracking_code))
    if case is None:
        raise CaseNotFound("No request has this tracking code; check the link you received.")
    return case


_CASE_NUMBER = re.compile(r"^[0-9]{4}/[0-9]{1,10}$")


def tracking_code_for(session: Session, case_number: str, email: str) -> str:
    """The tracking code of case ``case_number`` if ``email`` is its applicant's; else CaseNotFound.

    For the "track a request" box of a citizen who lost the link: both must match, so the case
    number alone (printed on paper) reveals nothing.
    """
    number, address = case_number.strip(), email.strip().lower()
    case = session.scalar(select(Case).where(Case.number == number)) if _CASE_NUMBER.match(number) else None
    if case is None or not address or str((case.applicant or {}).get("email") or "").lower() != address:
        raise CaseNotFound("No request has this case number and email; check both.")
    return str(case.tracking_code)


def _service_title(code: str) -> tuple[str, str]:
    try:
        service = get_service(code)
    except UnknownService:
        return (code, code)
    return (service.title.el, service.title.en)


def _deadline_days(code: str) -> int | None:
    try:
        return get_service(code).deadline_working_days
    except UnknownService:
        return None


def track(session: Session, tracking_code: str) -> Tracking:
    """The public view of the case with ``tracking_code`` (CaseNotFound if none): two queries —
    the case with its definition's hash, and its milestone events."""
    if not isinstance(tracking_code, str) or not CODE_PATTERN.match(tracking_code):
        raise CaseNotFound("No request has this tracking code; check the link you received.")
    row = session.execute(
        select(Case, ProcessDefinition.content_hash)
        .join(ProcessDefinition, ProcessDefinition.id == Case.definition_id)
        .where(Case.tracking_code == tracking_code)
        # The workflow's saved state (the largest column, often TOASTed) is not shown here.
        .options(defer(Case.state))
    ).one_or_none()
    if row is None:
        raise CaseNotFound("No request has this tracking code; check the link you received.")
    return tracking_of(session, row[0], row[1])


def tracking_of(session: Session, case: Case, content_hash: str | None = None) -> Tracking:
    """The public view of ``case`` (``content_hash``: its definition's, if the caller has it)."""
    data = case.data or {}
    if content_hash is None:
        content_hash = session.scalar(
            select(ProcessDefinition.content_hash).where(ProcessDefinition.id == case.definition_id)
        )
    milestones = load_definition(session, case.definition_id, content_hash).milestones
    events = session.execute(
        select(AuditEvent.action, AuditEvent.at, AuditEvent.details)
        .where(AuditEvent.case_id == case.id, AuditEvent.action.in_(_TRACKED_ACTIONS))
        .order_by(AuditEvent.seq)
    ).all()
    reached = [(str((d or {}).get("code")), at) for action, at, d in events if action == "milestone"]
    issued_documents = [dict(d or {}) for action, _at, d in events if action == DOCUMENT_ISSUED]
    if not milestones.nodes:  # a process that declares no milestones: when it came and ended
        milestones = _GENERIC
        reached = [("submitted", case.created_at)]
        if case.status in ("completed", "cancelled") and case.closed_at:
            reached.append((case.status, case.closed_at))
    elif case.status == "cancelled" and case.closed_at:
        reached.append(("cancelled", case.closed_at))
        milestones = replace(milestones, labels=_GENERIC.labels | milestones.labels)
    protocol_in = data.get("protocol_in") or {}
    outcome = data.get("outcome")
    certificate = data.get("certificate") if outcome == "issued" else None
    open_case = case.status == "active"
    # Decided: whatever automatic steps still run (a notice that waits for the mail server),
    # nothing is current or ahead. Processes deployed before 2026-12-05 mark "issued" on
    # their end event, after the notice, so the outcome is the surer sign.
    timeline = build_timeline(milestones, reached, open_case and outcome not in ("issued", "rejected"))
    current = next((m for m in timeline if m.state == "current"), None)
    waiting = open_case and current is not None and current.citizen_acts
    if outcome in ("issued", "rejected"):
        status = str(outcome)
    elif case.status in ("cancelled", "completed"):
        status = case.status
    else:
        status = "waiting_for_you" if waiting else "in_progress"
    action_required = None
    if waiting:
        # The date the notice gave the citizen (engine.requests.handlers.notify), not a timer's:
        # the first timer is only the reminder, and the page must say what the email said.
        action_required = {
            "kind": "supply_document",
            "document": str(data.get("requested_document") or ""),
            "reply_by": str(data["reply_by"]) if data.get("reply_by") else None,
        }
    return Tracking(
        case_id=case.id,
        case_number=case.number,
        service_code=str(data.get("service_code") or case.process_id),
        service_title=_service_title(str(data.get("service_code") or "")),
        status=status,
        submitted_at=case.created_at,
        protocol_number=protocol_in.get("display"),
        expected_by=athens_date(case.due_at) if case.due_at else None,
        timeline=timeline,
        deadline_working_days=_deadline_days(str(data.get("service_code") or "")),
        protocol_out_number=(data.get("protocol_out") or {}).get("display") if outcome else None,
        action_required=action_required,
        rejection_reason=(str(data.get("reject_reason") or "") or None) if status == "rejected" else None,
        certificate=certificate,
        closed_at=case.closed_at,
        issued_documents=issued_documents,
    )


def tracking_sms_text(tracking: Tracking, locale: str = "el") -> str:
    """A one-message status line for the SMS channel (ΔΥ ΧΑ1 <code>)."""
    el, en = tracking.service_title
    label = _status_label(tracking.status, locale)
    if locale == "en":
        text = f"Request {tracking.case_number} ({en}): {label}."
        if tracking.status == "waiting_for_you" and tracking.action_required:
            text += f" Please send: {tracking.action_required['document']}."
        elif tracking.status in ("in_progress", "waiting_for_you") and tracking.expected_by:
            text += f" Expected by {tracking.expected_by:%d/%m/%Y}."
    else:
        text = f"Αίτηση {tracking.case_number} ({el}): {label}."
        if tracking.status == "waiting_for_you" and tracking.action_required:
            text += f" Στείλτε: {tracking.action_required['document']}."
        elif tracking.status in ("in_progress", "waiting_for_you") and tracking.expected_by:
            text += f" Αναμένεται έως {tracking.expected_by:%d/%m/%Y}."
    return text


def request_receipt(
    session: Session, store: ObjectStore, tracking_code: str, *, issuer: str
) -> tuple[str, str]:
    """(storage key, file name) of the protocol receipt of the request's registration (ΕΙΣ)."""
    case = find_by_tracking_code(session, tracking_code)
    entry_id = ((case.data or {}).get("protocol_in") or {}).get("entry_id")
    entry = session.get(ProtocolEntry, entry_id) if entry_id else None
    if entry is None:
        raise CaseNotFound("This request has no protocol registration; ask the municipality.")
    return ensure_receipt(session, store, entry, issuer=issuer), receipt_filename(entry)


def issued_file(session: Session, tracking_code: str) -> CaseFile:
    """The sealed document issued to the request's applicant (CaseFile), once issued."""
    state = track(session, tracking_code)
    file_id = (state.certificate or {}).get("file_id")
    case_file = get_case_file(session, file_id) if file_id else None
    if case_file is None or case_file.case_id != state.case_id:
        raise CaseNotFound("This request has no issued document yet; its tracking page says when it does.")
    return case_file


def issued_document_file(session: Session, tracking_code: str, file_id: str) -> CaseFile:
    """One of the documents issued to the request's applicant (listed on its tracking page)."""
    state = track(session, tracking_code)
    listed = {str(d.get("file_id")) for d in state.issued_documents}
    case_file = get_case_file(session, file_id) if file_id in listed else None
    if case_file is None or case_file.case_id != state.case_id:
        raise CaseNotFound("This request has no such issued document; its tracking page lists them.")
    return case_file
