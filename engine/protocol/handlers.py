"""Service-task handlers of the protocol registry (imported by the worker, see engine.workflow.service_tasks).

A BPMN service task with the topic ``register_protocol`` registers the case's document in
the case's own transaction: the parameters come from the task data's ``protocol`` key and
the entry comes back as ``protocol_entry`` (see engine.protocol.tasks).
"""

from __future__ import annotations

from engine.protocol.tasks import handle_service_call
from engine.workflow.service_tasks import register_handler

register_handler("register_protocol")(handle_service_call)
