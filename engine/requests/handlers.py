"""Service tasks of the citizen-request processes: render, seal, notify, record the outcome.

Each handler runs in the case's own transaction (see engine.workflow.service_tasks.ServiceCall) from the
worker's job queue, so a failure (TSA down, template error) is retried with backoff and ends
as an incident an administrator can retry; nothing half-done stays behind because the
handler's writes sit in a savepoint. What a handler returns goes into the case data.

The handlers need the object store, the settings and the sealer. The worker builds them
from the settings on first use; tests and ``polis run`` may hand over their own with
:func:`configure_handlers`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from threading import Lock
from typing import Any

from core.clock import utcnow
from core.errors import InvalidInput
from core.settings import Settings, get_settings
from core.workdays import athens_date
from engine.issuing.certificates import CERTIFICATE_STAMP, CertificateContext, render_certificate_pdf
from engine.issuing.registry import issue_document, new_verification_code, verification_path
from engine.issuing.stated_facts import certified_form
from engine.notifications.messages import TEMPLATE_KEYS
from engine.notifications.outbox import notify_applicant
from engine.people.models import Department
from engine.protocol.drafts import FileRef
from engine.protocol.entries import attach_file
from engine.requests.files import add_case_file, get_case_file
from engine.requests.submission import ApplicantInfo, notification_values
from engine.workflow.models import Case
from engine.workflow.service_tasks import ServiceCall, register_handler
from forms.catalogue import get_service
from signing.config import sealer_for
from signing.sealer import Sealer
from signing.stamp import Stamp
from storage import ObjectStore, open_store

OUTCOMES = ("issued", "rejected")


@dataclass
class HandlerContext:
    """What the handlers use besides the case: settings, object store, sealer (built lazily)."""

    settings: Settings
    store: ObjectStore
    sealer: Sealer | None = None
    _lock: Lock = field(default_factory=Lock, repr=False)

    def get_sealer(self) -> Sealer:
        """The sealer, built on first use (it may open a token or load a PKCS#12 file)."""
        with self._lock:
            if self.sealer is None:
                self.sealer = sealer_for(self.settings)
            return self.sealer


_context: HandlerContext | None = None
_context_lock = Lock()


def configure_handlers(
    *, settings: Settings | None = None, store: ObjectStore | None = None, sealer: Sealer | None = None
) -> HandlerContext:
    """Set what the handlers use (tests, `polis run`); unset parts come from the settings."""
    global _context
    settings = settings or get_settings()
    with _context_lock:
        _context = HandlerContext(settings=settings, store=store or open_store(settings), sealer=sealer)
        return _context


def reset_handlers() -> None:
    """Forget the configured context (the next handler builds one from the settings)."""
    global _context
    with _context_lock:
        _context = None


def handler_context() -> HandlerContext:
    """The configured context, or one built from the environment's settings."""
    with _context_lock:
        current = _context
    return current if current is not None else configure_handlers()


def _case(call: ServiceCall) -> Case:
    case = call.session.get(Case, call.case_id)
    if case is None:  # the engine holds the case's lock: this cannot happen
        raise LookupError(f"case {call.case_id} is missing")
    return case


def _applicant(case: Case) -> ApplicantInfo:
    return ApplicantInfo.from_dict(case.applicant or {})


def _service_code(call: ServiceCall) -> str:
    code = call.data.get("service_code")
    if not isinstance(code, str):
        raise InvalidInput(f"case {call.case_number} has no service_code in its data; it cannot be served.")
    return code


@register_handler("render_certificate")
def render_certificate(call: ServiceCall) -> dict[str, Any]:
    """Fill the service's certificate template (PDF/A-2b) and keep it as the case's draft.

    The outgoing protocol number (``protocol_out``), registered just before, is printed on
    it; the verification code is chosen now because the QR code on the page carries it.
    """
    context = handler_context()
    settings = context.settings
    case = _case(call)
    service = get_service(_service_code(call))
    code = new_verification_code()
    issued_at = utcnow()
    department = call.session.get(Department, case.department_id) if case.department_id else None
    protocol_out = call.data.get("protocol_out") or {}
    pdf = render_certificate_pdf(
        service,
        certified_form(call.data),  # what the applicant gave, as the clerk corrected it
        CertificateContext(
            municipality_name=settings.municipality_name,
            case_number=case.number,
            issued_at=issued_at,
            verification_url=settings.public_base_url.rstrip("/") + verification_path(code),
            verification_code=code,
            protocol_number=str(protocol_out.get("display") or "—"),
            department_name=department.name_el if department is not None else "",
        ),
    )
    draft = add_case_file(
        call.session,
        context.store,
        case.id,
        "draft",
        f"{service.code}-{case.number.replace('/', '-')}-draft.pdf",
        "application/pdf",
        pdf,
    )
    return {
        "certificate_draft": {
            "file_id": str(draft.id),
            "sha256": draft.sha256,
            "verification_code": code,
            "issued_at": issued_at.isoformat(),
        }
    }


@register_handler("seal_document")
def seal_document(call: ServiceCall) -> dict[str, Any]:
    """Seal the draft (PAdES, visible stamp with QR), store it, register it as issued and
    attach it to the outgoing protocol entry."""
    context = handler_context()
    case = _case(call)
    draft_info = call.data.get("certificate_draft") or {}
    draft = get_case_file(call.session, str(draft_info.get("file_id") or ""))
    if draft is None or draft.case_id != case.id:
        raise InvalidInput(f"case {case.number} has no certificate draft; run render_certificate first.")
    code = str(draft_info["verification_code"])
    reader = context.store.open(draft.object_key, expected_sha256=draft.sha256)
    try:
        pdf = reader.read()
    finally:
        reader.close()
    stamp = Stamp(
        verification_url=context.settings.public_base_url.rstrip("/") + verification_path(code),
        verification_code=code,
        placement=CERTIFICATE_STAMP,
    )
    sealed = context.get_sealer().seal(pdf, stamp)
    service = get_service(_service_code(call))
    final = add_case_file(
        call.session,
        context.store,
        case.id,
        "certificate",
        f"{service.code}-{case.number.replace('/', '-')}.pdf",
        "application/pdf",
        sealed,
    )
    protocol_out = call.data.get("protocol_out") or {}
    document = issue_document(
        call.session,
        title=f"{service.title.el} — {case.number}",
        pdf=sealed,
        storage_key=final.object_key,
        protocol_number=protocol_out.get("display"),
        verification_code=code,
    )
    if protocol_out.get("entry_id"):
        attach_file(
            call.session,
            uuid.UUID(str(protocol_out["entry_id"])),
            FileRef(final.object_key, final.sha256, final.filename, final.size, final.content_type),
        )
    return {
        "certificate": {
            "verification_code": document.verification_code,
            "file_id": str(final.id),
            "sha256": final.sha256,
            "issued_at": str(draft_info.get("issued_at") or utcnow().isoformat()),
        }
    }


@register_handler("notify_applicant")
def notify(call: ServiceCall) -> dict[str, Any]:
    """Queue a notice to the applicant on the channels they chose.

    Input parameters: ``template`` (a key of engine.notifications TEMPLATE_KEYS) and, for
    ``document_requested``, ``reply_within`` (an ISO duration such as ``P15D``: the reply-by
    date the notice shows).
    """
    template = str(call.params.get("template") or "")
    if template not in TEMPLATE_KEYS:
        raise InvalidInput(
            f"service task {call.bpmn_id}: template {template!r} is not a notification template; "
            f"use one of {', '.join(TEMPLATE_KEYS)}."
        )
    context = handler_context()
    case = _case(call)
    applicant = _applicant(case)
    service = get_service(_service_code(call))
    values: dict[str, Any] = notification_values(
        context.settings, service, applicant, case.number, case.tracking_code
    )
    now = utcnow()
    if template == "document_requested":
        values["document"] = str(call.data.get("requested_document") or "")
        within = _duration(call.params.get("reply_within"), call.bpmn_id)
        if within is not None:
            reply_by = athens_date(now + within)
            values["reply_by"] = reply_by.strftime("%d/%m/%Y")
    elif template == "request_rejected":
        values["reason"] = str(call.data.get("reject_reason") or call.data.get("reason") or "")
    elif template == "certificate_issued":
        certificate = call.data.get("certificate") or {}
        if certificate.get("verification_code"):
            values["verification_url"] = context.settings.public_base_url.rstrip("/") + verification_path(
                str(certificate["verification_code"])
            )
    protocol_out = call.data.get("protocol_out") or {}
    if protocol_out.get("display"):
        values["protocol_number"] = protocol_out["display"]
    sent = notify_applicant(
        call.session, applicant, template_key=template, values=values, case_id=case.id, now=now
    )
    notices = list(call.data.get("notices") or [])
    notices.append({"template": template, "at": now.isoformat(), "channels": [n.channel for n in sent]})
    if "reply_by" in values:
        # The tracking page shows this very date: the citizen reads one deadline, not two.
        return {"notices": notices, "reply_by": reply_by.isoformat()}
    return {"notices": notices}


@register_handler("record_outcome")
def record_outcome(call: ServiceCall) -> dict[str, Any]:
    """Write the case's outcome for the tracking page: ``issued`` or ``rejected`` (with a reason).

    Input parameters: ``outcome``; ``reason`` (text, or ``${reason}`` for the head's reason).
    """
    outcome = str(call.params.get("outcome") or "")
    if outcome not in OUTCOMES:
        raise InvalidInput(
            f"service task {call.bpmn_id}: outcome must be one of {OUTCOMES}, not {outcome!r}."
        )
    result: dict[str, Any] = {"outcome": outcome}
    if outcome == "rejected":
        reason = str(call.params.get("reason") or "").strip()
        if not reason:
            raise InvalidInput(f"service task {call.bpmn_id}: a rejection needs a reason.")
        result["reject_reason"] = reason
    return result


def _duration(value: Any, bpmn_id: str) -> timedelta | None:
    if value in (None, ""):
        return None
    text = str(value).strip().upper()
    if text.startswith("P") and text.endswith("D") and text[1:-1].isdigit():
        return timedelta(days=int(text[1:-1]))
    raise InvalidInput(f"service task {bpmn_id}: reply_within must be whole days like P15D, not {value!r}.")
