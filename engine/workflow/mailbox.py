"""What a waiting case catches, and the kept messages delivered to it once it waits for them.

A message that arrives before its case reaches the catch event is kept (engine.workflow.messages);
every save of a case that waits for messages delivers the kept ones it now waits for, in the
order they arrived. Lower than the runtime, which calls it on every save.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.workflow.models import Message

MESSAGES = cast(Table, Message.__table__)
#: How a delivery is written to the case's audit log: ``record(action, task_id, **details)``.
Recorder = Callable[..., None]


def event_definitions(task: SpiffTask) -> list[Any]:
    """The events a waiting task catches: one, or each branch of an event-based gateway."""
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition] if definition is not None else []


def message_definitions(task: SpiffTask) -> list[MessageEventDefinition]:
    """The message events a waiting task catches (an event-based gateway may have several)."""
    return [d for d in event_definitions(task) if isinstance(d, MessageEventDefinition)]


def waiting_message_names(workflow: BpmnWorkflow) -> set[str]:
    """Names of the messages the workflow waits for right now."""
    return {
        definition.name
        for t in workflow.event_manager.tasks.values()
        for definition in message_definitions(t)
    }


def deliver_kept_messages(
    session: Session, case_id: uuid.UUID, workflow: BpmnWorkflow, record: Recorder
) -> int:
    """Deliver kept, unexpired messages the workflow now waits for; return how many."""
    delivered = 0
    while waiting := waiting_message_names(workflow):
        row = session.execute(
            select(MESSAGES.c.id, MESSAGES.c.name, MESSAGES.c.message_id, MESSAGES.c.payload)
            .where(
                MESSAGES.c.case_id == case_id,
                MESSAGES.c.delivered_at.is_(None),
                MESSAGES.c.expires_at > utcnow(),
                MESSAGES.c.name.in_(waiting),
            )
            .order_by(MESSAGES.c.id)
            .limit(1)
        ).first()
        if row is None:
            break
        catcher, definition = next(
            (t, d)
            for t in workflow.event_manager.tasks.values()
            for d in message_definitions(t)
            if d.name == row.name
        )
        # Camunda-style files name no message variable: the payload's fields become task
        # data (as Camunda's correlate-with-variables does); Spiff's own files may still
        # set spiffworkflow:messageVariable.
        catcher.data.update(row.payload)
        workflow.catch(BpmnEvent(definition, dict(row.payload)))
        workflow.do_engine_steps()
        session.execute(update(MESSAGES).where(MESSAGES.c.id == row.id).values(delivered_at=utcnow()))
        record("message_received", None, message=row.name, message_id=row.message_id)
        delivered += 1
    return delivered
