"""Service tasks of incoming_document.bpmn: escalation, filing and reply intent on the assignment.

Run by the job loop in the case's own transaction. Filing and reply were usually written
already by engine.documents.handling when the person acted; these make the same change for a
task completed some other way (the generic task API), once.
"""

from __future__ import annotations

from typing import Any

from core.clock import utcnow
from engine.documents.assignments import live_assignment_of_case
from engine.documents.errors import DocumentNotFound
from engine.documents.handling import close_as_filed, close_as_reply
from engine.documents.history import record_event
from engine.documents.models import AssignmentState, DocumentAssignment
from engine.workflow.service_tasks import ServiceCall, register_handler


def _assignment(call: ServiceCall) -> DocumentAssignment | None:
    try:
        return live_assignment_of_case(call.session, call.case_id)
    except DocumentNotFound:
        return None  # written already when the person acted


@register_handler("document_escalated")
def document_escalated(call: ServiceCall) -> dict[str, Any]:
    """The deadline passed before the clerk handled the document: mark it escalated."""
    assignment = _assignment(call)
    now = utcnow()
    if (
        assignment is not None
        and assignment.state == AssignmentState.OPEN
        and assignment.escalated_at is None
    ):
        assignment.escalated_at = now
        record_event(
            call.session, assignment.document_id, None, "escalated", due_at=str(call.data.get("due_at"))
        )
        call.session.flush()
    return {"escalated_at": now.isoformat()}


@register_handler("document_filed")
def document_filed(call: ServiceCall) -> dict[str, Any]:
    """Αρχειοθέτηση: the reason and file-plan subject from the task data."""
    assignment = _assignment(call)
    if assignment is not None:
        close_as_filed(
            call.session,
            assignment,
            str(call.data.get("reason") or "").strip() or "—",
            str(call.data.get("file_plan_code") or "99"),
            None,
        )
    return {"outcome": "filed"}


@register_handler("document_reply")
def document_reply(call: ServiceCall) -> dict[str, Any]:
    """A reply was started: recorded on the assignment."""
    assignment = _assignment(call)
    if assignment is not None:
        close_as_reply(call.session, assignment, str(call.data.get("note") or "") or None, None)
    return {"outcome": "reply"}
