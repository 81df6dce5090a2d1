"""Service task of general_request.bpmn: send the clerk's or head's answer to the citizen."""

from __future__ import annotations

from typing import Any

from core.clock import utcnow
from core.errors import InvalidInput
from engine.notifications.outbox import notify_applicant
from engine.requests.handlers import handler_context
from engine.requests.submission import ApplicantInfo, notification_values
from engine.workflow.models import Case
from engine.workflow.service_tasks import ServiceCall, register_handler
from forms.catalogue import get_service

SERVICE_CODE = "general_request"


@register_handler("send_reply")
def send_reply(call: ServiceCall) -> dict[str, Any]:
    """Queue the answer (case data ``reply``) to the applicant on the channels they chose."""
    case = call.session.get(Case, call.case_id)
    if case is None:  # the engine holds the case's lock: this cannot happen
        raise LookupError(f"case {call.case_id} is missing")
    reply = str(call.data.get("reply") or "").strip()
    if not reply:
        raise InvalidInput(f"case {call.case_number}: there is no answer ('reply') to send.")
    applicant = ApplicantInfo.from_dict(case.applicant or {})
    settings = handler_context().settings
    service = get_service(str(call.data.get("service_code") or SERVICE_CODE))
    values = notification_values(settings, service, applicant, case.number, case.tracking_code)
    values["reply"] = reply
    protocol_in = call.data.get("protocol_in") or {}
    if protocol_in.get("display"):
        values["protocol_number"] = protocol_in["display"]
    protocol_out = call.data.get("protocol_out") or {}
    if protocol_out.get("display"):
        values["answer_protocol_number"] = protocol_out["display"]
    now = utcnow()
    sent = notify_applicant(
        call.session, applicant, template_key="request_answered", values=values, case_id=case.id, now=now
    )
    notices = list(call.data.get("notices") or [])
    notices.append(
        {"template": "request_answered", "at": now.isoformat(), "channels": [n.channel for n in sent]}
    )
    return {"notices": notices, "answered_at": now.isoformat()}
