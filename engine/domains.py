"""The domains plugged into the BPMN runtime: the organisation directory, the service-task
handlers and the worker's jobs.

engine.workflow knows none of the municipal domains; whoever starts Polis (the web app, the
``polis`` command, the worker, the tests) calls :func:`load_domains` once, which imports the
modules whose service-task handlers register themselves by name and registers the rest.
"""

from __future__ import annotations

from engine.audit_anchors import install_anchor_job
from engine.documents import handlers as document_handlers
from engine.notifications.jobs import DELIVERY_GROUP, install_delivery_job
from engine.notifications.outbox import requeue_failed_notification
from engine.people.directory import OrgDirectory
from engine.protocol import handlers as protocol_handlers
from engine.requests import general_request
from engine.requests import handlers as request_handlers
from engine.requests.jobs import install_abuse_guard_purge
from engine.workflow.directory import register_directory
from engine.workflow.jobs import register_jobs
from engine.workflow.timers import register_incident_retrier

#: The modules whose import registers service-task handlers (``@register_handler``).
HANDLER_MODULES = (protocol_handlers, request_handlers, general_request, document_handlers)


def load_domains() -> None:
    """Register the directory, the handlers and the jobs of every domain (idempotent)."""
    register_directory(OrgDirectory())
    register_jobs(install_delivery_job, DELIVERY_GROUP)
    register_jobs(install_abuse_guard_purge)
    register_jobs(install_anchor_job)
    register_incident_retrier("notification", requeue_failed_notification)
