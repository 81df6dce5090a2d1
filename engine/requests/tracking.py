"""What a citizen sees of their case: a public timeline, never a clerk's name or a comment.

The timeline is derived from the case's own records (its row, its protocol entries, its
audit log, its pending timers), so nothing extra is written on the hot path and nothing
internal leaks: only milestone codes, times, the expected date and what the citizen must do.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.workdays import athens_date
from engine.protocol.models import ProtocolEntry
from engine.protocol.receipts import ensure_receipt, receipt_filename
from engine.requests.files import get_case_file
from engine.requests.models import CaseFile
from engine.workflow.errors import CaseNotFound
from engine.workflow.models import AuditEvent, Case
from forms.catalogue import UnknownService, get_service
from storage import ObjectStore

#: Tracking codes are secrets.token_urlsafe(24): 32 URL-safe characters.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
ASK_DECISION = "ask_citizen"
SUPPLIED_MESSAGE = "document_supplied"

LABELS: dict[str, tuple[str, str]] = {
    "submitted": ("Υποβλήθηκε", "Submitted"),
    "registered": ("Πρωτοκολλήθηκε", "Registered"),
    "under_review": ("Σε επεξεργασία", "Under review"),
    "waiting_for_you": ("Αναμένονται στοιχεία από εσάς", "Waiting for you"),
    "document_received": ("Λάβαμε τα στοιχεία σας", "Your documents arrived"),
    "approved": ("Εγκρίθηκε", "Approved"),
    "rejected": ("Απορρίφθηκε", "Rejected"),
    "issued": ("Εκδόθηκε", "Issued"),
    "cancelled": ("Ακυρώθηκε", "Cancelled"),
    # Requests without a certificate (general_request): answered or closed by the department.
    "completed": ("Ολοκληρώθηκε", "Completed"),
}


#: How a step still ahead is named: "Issued" would say it happened.
AHEAD_LABELS: dict[str, tuple[str, str]] = {
    "under_review": ("Εξέταση από την υπηρεσία", "Review by the department"),
    "approved": ("Απόφαση της υπηρεσίας", "The department's decision"),
    "issued": ("Έκδοση του εγγράφου", "Issue of the document"),
}

#: Steps a case dwells in: while one of them is the last step reached, it is the current one.
DWELLING = ("under_review", "waiting_for_you", "document_received")


@dataclass(frozen=True)
class Milestone:
    """One step of the public timeline: reached (with its time) or still ahead."""

    code: str
    at: datetime | None
    state: str = "done"  # done, current or next

    def as_dict(self, locale: str = "el") -> dict[str, Any]:
        """JSON-ready, with the label in ``locale`` and the time in UTC (ISO 8601)."""
        el, en = (AHEAD_LABELS if self.at is None else LABELS).get(self.code, LABELS[self.code])
        return {
            "code": self.code,
            "label": en if locale == "en" else el,
            "reached": self.at is not None,
            "at": self.at.isoformat() if self.at else None,
            "state": self.state,
        }


def with_states(timeline: list[Milestone], open_case: bool) -> list[Milestone]:
    """The timeline with each step marked done, current or next.

    A closed case has only done steps. In an open one the current step is the last step
    reached if the case dwells there (review, waiting for the citizen), otherwise the first
    step not reached yet; reached steps before it are done, the rest are next.
    """
    if not open_case:
        return [Milestone(m.code, m.at, "done") for m in timeline if m.at is not None]
    reached = [i for i, m in enumerate(timeline) if m.at is not None]
    last = reached[-1] if reached else -1
    if last >= 0 and timeline[last].code in DWELLING:
        current = last
    else:
        current = next((i for i, m in enumerate(timeline) if m.at is None and i > last), len(timeline))
    states = ["done" if i < current else "current" if i == current else "next" for i in range(len(timeline))]
    return [Milestone(m.code, m.at, state) for m, state in zip(timeline, states, strict=True)]


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


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def track(session: Session, tracking_code: str) -> Tracking:
    """The public view of the case with ``tracking_code`` (CaseNotFound if none)."""
    case = find_by_tracking_code(session, tracking_code)
    return tracking_of(session, case)


def tracking_of(session: Session, case: Case) -> Tracking:
    """The public view of ``case``."""
    data = case.data or {}
    events = session.execute(
        select(AuditEvent.action, AuditEvent.at, AuditEvent.details)
        .where(AuditEvent.case_id == case.id)
        .order_by(AuditEvent.seq)
    ).all()
    protocol_in = data.get("protocol_in") or {}
    timeline = [Milestone("submitted", case.created_at)]
    registered_at = _parse(protocol_in.get("registered_at"))
    timeline.append(Milestone("registered", registered_at))
    review_at: datetime | None = None
    decision_at: tuple[str, datetime] | None = None
    asked: list[datetime] = []
    supplied: list[datetime] = []
    for action, at, details in events:
        details = details or {}
        if action in ("task_claimed", "task_completed") and review_at is None:
            review_at = at
        if action == "task_completed":
            decision = (details.get("data") or {}).get("decision")
            if decision == ASK_DECISION:
                asked.append(at)
            elif decision in ("approve", "reject"):
                decision_at = ("approved" if decision == "approve" else "rejected", at)
        elif action == "message_received" and details.get("message") == SUPPLIED_MESSAGE:
            supplied.append(at)
    timeline.append(Milestone("under_review", review_at))
    for index, at in enumerate(asked):
        timeline.append(Milestone("waiting_for_you", at))
        if index < len(supplied):
            timeline.append(Milestone("document_received", supplied[index]))
    waiting = case.status == "active" and len(asked) > len(supplied)
    outcome = data.get("outcome")
    certificate = data.get("certificate") if outcome == "issued" else None
    if outcome in ("issued", "rejected"):
        status = str(outcome)
    elif case.status == "cancelled":
        status = "cancelled"
    elif case.status == "completed":  # ended without a certificate outcome (general_request)
        status = "completed"
    else:
        status = "waiting_for_you" if waiting else "in_progress"
    if decision_at is not None:
        timeline.append(Milestone(*decision_at))
    if status == "rejected":
        if decision_at is None or decision_at[0] != "rejected":
            timeline.append(Milestone("rejected", case.closed_at))
    elif status == "cancelled":
        timeline.append(Milestone("cancelled", case.closed_at))
    elif status == "completed":
        timeline.append(Milestone("completed", case.closed_at))
    else:
        if decision_at is None:
            timeline.append(Milestone("approved", None))
        issued_at = _parse((certificate or {}).get("issued_at")) or (case.closed_at if certificate else None)
        timeline.append(Milestone("issued", issued_at))
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
        timeline=with_states(timeline, status in ("in_progress", "waiting_for_you")),
        deadline_working_days=_deadline_days(str(data.get("service_code") or "")),
        protocol_out_number=(data.get("protocol_out") or {}).get("display") if outcome else None,
        action_required=action_required,
        rejection_reason=(str(data.get("reject_reason") or "") or None) if status == "rejected" else None,
        certificate=certificate,
        closed_at=case.closed_at,
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
