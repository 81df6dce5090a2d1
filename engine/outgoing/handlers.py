"""Service tasks of outgoing_document.bpmn (registration, dispatch, the SLA's record) and the
worker's job that retries emails not yet delivered.

Run by the job loop in the case's own transaction: a failing registration (TSA or seal down)
rolls back with the step and is retried, so no number is taken for a document not stamped.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import procrastinate
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings, get_settings
from engine.outgoing.chain import round_steps
from engine.outgoing.dispatch import dispatch, register_signed, send_due_emails
from engine.outgoing.history import record
from engine.outgoing.models import StepState
from engine.requests.handlers import handler_context
from engine.workflow.case_store import TIMER_QUEUE
from engine.workflow.service_tasks import ServiceCall, register_handler
from storage import open_store

RETRY_TASK = "outgoing.retry_deliveries"


def _document_id(call: ServiceCall) -> uuid.UUID:
    return uuid.UUID(str(call.data["document_id"]))


@register_handler("outgoing_step_overdue")
def step_overdue(call: ServiceCall) -> dict[str, Any]:
    """The step's SLA passed: say whose step is late in the history (the step stays theirs)."""
    late = [
        str(s.person_id)
        for s in round_steps(call.session, _document_id(call))
        if s.state == StepState.CURRENT.value
    ]
    record(
        call.session,
        _document_id(call),
        None,
        "step_overdue",
        people=late,
        due_at=call.data.get("step_due_at"),
    )
    call.session.flush()
    return {"overdue_people": late}


@register_handler("outgoing_register")
def register_document(call: ServiceCall) -> dict[str, Any]:
    """ΕΞ/ΕΣΩ registration, the number stamped by the e-seal."""
    context = handler_context()
    entry = register_signed(
        call.session,
        context.store,
        context.get_sealer(),
        _document_id(call),
        base_url=context.settings.public_base_url,
    )
    return {"protocol": {"entry_id": str(entry.id), "display": entry.display_number}}


@register_handler("outgoing_dispatch")
def dispatch_document(call: ServiceCall) -> dict[str, Any]:
    """Deliver to every recipient (emails that fail are retried by the worker's job)."""
    context = handler_context()
    dispatch(call.session, context.store, context.settings, _document_id(call))
    return {"dispatched": True}


def install_delivery_retries(
    app: procrastinate.App, factory: sessionmaker[Session], settings: Settings | None = None
) -> None:
    """Every five minutes, send the outgoing documents' emails whose retry is due."""

    @app.periodic(cron="*/5 * * * *", periodic_id="outgoing-delivery-retries")
    @app.task(name=RETRY_TASK, queue=TIMER_QUEUE, queueing_lock=RETRY_TASK)
    def retry_deliveries(timestamp: int) -> None:
        current = settings or get_settings()
        with factory.begin() as session:
            sent = send_due_emails(session, open_store(current), current)
        if sent:
            logging.getLogger(__name__).info("outgoing documents: %d emails delivered on retry", sent)
