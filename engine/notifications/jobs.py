"""The worker's job that delivers notifications: queued by the transaction that wrote one, and
every minute for retries. Registered with the worker by engine.domains."""

from __future__ import annotations

import logging

import procrastinate
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings, get_settings
from engine.notifications.outbox import DELIVER_QUEUE, DELIVER_TASK, RetryPolicy, deliver_due
from engine.notifications.senders import senders_from_settings
from engine.workflow.jobs import QueueGroup

log = logging.getLogger(__name__)
#: How long a notification run may keep starting new attempts (each one is bounded by
#: its channel's own timeout).
DELIVERY_BUDGET_SECONDS = 120.0
#: Notices have workers of their own, so a mail server that hangs delays no timer or seal.
DELIVERY_GROUP = QueueGroup(
    "notifications", (DELIVER_QUEUE,), concurrency=2, job_timeout_seconds=DELIVERY_BUDGET_SECONDS + 120.0
)


def install_delivery_job(
    app: procrastinate.App, factory: sessionmaker[Session], settings: Settings | None = None
) -> None:
    """Add the periodic delivery task to the worker's ``app``."""

    @app.periodic(cron="* * * * *", periodic_id="notifications-deliver")
    @app.task(name=DELIVER_TASK, queue=DELIVER_QUEUE, queueing_lock=DELIVER_TASK)
    def deliver_notifications(timestamp: int = 0) -> None:
        # Queued by the transaction that wrote a notification, and every minute for retries.
        current = settings or get_settings()
        senders = senders_from_settings(current)
        if not senders:
            log.warning("notifications stay queued: neither SMTP nor an SMS gateway is configured")
            return
        report = deliver_due(
            factory,
            senders=senders,
            policy=RetryPolicy.from_settings(current),
            limit=500,
            budget_seconds=DELIVERY_BUDGET_SECONDS,
        )
        if report.sent or report.failed or report.retrying:
            log.info(
                "notifications: %d sent, %d to retry, %d failed",
                len(report.sent),
                len(report.retrying),
                len(report.failed),
            )
