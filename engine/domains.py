"""The domains plugged into the BPMN runtime: the organisation directory, the service-task
handlers and the worker's jobs (including the nightly sweep of orphaned stored objects).

engine.workflow knows none of the municipal domains; whoever starts Polis (the web app, the
``polis`` command, the worker, the tests) calls :func:`load_domains` once, which imports the
modules whose service-task handlers register themselves by name and registers the rest.
"""

from __future__ import annotations

import procrastinate
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings, get_settings
from engine.audit_anchors import install_anchor_job
from engine.documents import handlers as document_handlers
from engine.notifications.jobs import DELIVERY_GROUP, install_delivery_job
from engine.notifications.outbox import requeue_failed_notification
from engine.outgoing import handlers as outgoing_handlers
from engine.people.directory import OrgDirectory
from engine.protocol import handlers as protocol_handlers
from engine.requests import general_request
from engine.requests import handlers as request_handlers
from engine.requests.jobs import install_abuse_guard_purge
from engine.workflow.case_store import TIMER_QUEUE
from engine.workflow.directory import register_directory
from engine.workflow.jobs import register_jobs
from engine.workflow.timers import register_incident_retrier
from storage import open_store
from storage.orphans import sweep_orphans

ORPHAN_TASK = "storage.sweep_orphans"


def install_orphan_sweep(
    app: procrastinate.App, factory: sessionmaker[Session], settings: Settings | None = None
) -> None:
    """Add the nightly sweep of objects stored by transactions that never committed
    (storage.orphans) to the worker's ``app``: storage upkeep, not the BPMN runtime's."""

    @app.periodic(cron="37 3 * * *", periodic_id="storage-orphan-sweep")
    @app.task(name=ORPHAN_TASK, queue=TIMER_QUEUE, queueing_lock=ORPHAN_TASK)
    def sweep_orphan_objects(timestamp: int) -> None:
        with factory.begin() as session:
            sweep_orphans(session, open_store(settings or get_settings()), delete=True)


#: The modules whose import registers service-task handlers (``@register_handler``).
HANDLER_MODULES = (protocol_handlers, request_handlers, general_request, document_handlers, outgoing_handlers)


def load_domains() -> None:
    """Register the directory, the handlers and the jobs of every domain (idempotent)."""
    register_directory(OrgDirectory())
    register_jobs(install_delivery_job, DELIVERY_GROUP)
    register_jobs(install_abuse_guard_purge)
    register_jobs(install_anchor_job)
    register_jobs(install_orphan_sweep)
    register_jobs(outgoing_handlers.install_delivery_retries)
    register_incident_retrier("notification", requeue_failed_notification)
