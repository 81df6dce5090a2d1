"""The outbox: notifications are written in the caller's transaction and sent by the worker.

``enqueue_notification`` only inserts a row, so a notification exists exactly when the state
change that caused it was committed. ``deliver_due`` sends what is due, one row per
transaction, locked with ``FOR UPDATE SKIP LOCKED`` so that two workers never send the same
message; failures are retried with exponential backoff and end as ``failed`` after the
last attempt.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import InvalidInput, NotFound
from core.orm import session_scope
from core.settings import Settings
from engine.notifications.messages import render_email, render_sms
from engine.notifications.models import Notification
from engine.notifications.senders import DeliveryError, PermanentDeliveryError, Sender, email_address_ok
from forms.greek_ids import is_valid_greek_phone, normalise_phone

logger = logging.getLogger(__name__)


class NotificationRecipient(Protocol):
    """What the outbox needs to know about a person (an Applicant fits)."""

    @property
    def email(self) -> str | None:
        """Where emails go (None: no email)."""

    @property
    def phone(self) -> str | None:
        """Where SMS go (None: no phone)."""

    @property
    def preferred_channel(self) -> str:
        """email, sms or both."""

    @property
    def preferred_locale(self) -> str:
        """el or en."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a notification is retried."""

    max_attempts: int = 8
    first_delay: timedelta = timedelta(seconds=60)
    max_delay: timedelta = timedelta(hours=6)

    def delay_after(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: first_delay doubled each time."""
        return min(self.first_delay * (1 << min(max(attempts - 1, 0), 30)), self.max_delay)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy POLIS_NOTIFICATION_* configure."""
        return cls(
            max_attempts=settings.notification_max_attempts,
            first_delay=timedelta(seconds=settings.notification_retry_seconds),
        )


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` run did."""

    sent: list[uuid.UUID] = field(default_factory=list)
    retrying: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)


def _clean_recipient(channel: str, recipient: str) -> str:
    if channel == "email":
        value = recipient.strip()
        if not email_address_ok(value):
            raise InvalidInput(f"{recipient[:80]!r} is not an email address to notify.")
        return value
    if channel == "sms":
        if not is_valid_greek_phone(recipient):
            raise InvalidInput(f"{recipient[:20]!r} is not a phone number to text.")
        return normalise_phone(recipient)
    raise InvalidInput(f"Unknown notification channel {channel!r}; use email or sms.")


def enqueue_notification(
    session: Session,
    *,
    channel: str,
    recipient: str,
    locale: str,
    template_key: str,
    values: Mapping[str, Any],
    case_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Notification:
    """Write one notification, rendered now, into the caller's transaction (no commit)."""
    address = _clean_recipient(channel, recipient)
    if channel == "email":
        message = render_email(template_key, locale, values)
        subject, text, html = message.subject, message.text, message.html
    else:
        subject, text, html = None, render_sms(template_key, locale, values), None
    notification = Notification(
        case_id=case_id,
        channel=channel,
        recipient=address,
        locale=locale,
        template_key=template_key,
        subject=subject,
        body_text=text,
        body_html=html,
        status="queued",
        attempts=0,
        next_attempt_at=now or datetime.now(UTC),
    )
    session.add(notification)
    session.flush()
    wake_delivery(session)
    return notification


#: The worker's job that sends due notifications (engine.workflow.jobs registers it).
DELIVER_QUEUE = "notifications"
DELIVER_TASK = "notifications.deliver"
_DEFER_DELIVERY = text(
    f"""
SELECT procrastinate_defer_jobs_v1(ARRAY[
    ROW('{DELIVER_QUEUE}', '{DELIVER_TASK}', 0, NULL, '{DELIVER_TASK}', '{{"timestamp": 0}}'::jsonb,
        NULL)::procrastinate_job_to_defer_v1])
"""
)


def wake_delivery(session: Session) -> None:
    """Ask the worker to send now, in the caller's transaction (the job exists once it commits).

    One delivery job waits at a time (procrastinate's queueing lock); when one is already
    queued it will pick this notification up too, so the duplicate is dropped quietly. The
    worker's per-minute run is the safety net for retries that come due later.
    """
    try:
        with session.begin_nested():
            session.execute(_DEFER_DELIVERY)
    except IntegrityError:
        pass


def notify_applicant(
    session: Session,
    applicant: NotificationRecipient,
    *,
    template_key: str,
    values: Mapping[str, Any],
    case_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> list[Notification]:
    """Enqueue ``template_key`` on the channels the applicant chose (email, SMS or both)."""
    channels = ["email", "sms"] if applicant.preferred_channel == "both" else [applicant.preferred_channel]
    created = []
    for channel in channels:
        recipient = applicant.email if channel == "email" else applicant.phone
        if not recipient:
            continue  # e.g. "both" but no phone yet: the other channel still goes
        created.append(
            enqueue_notification(
                session,
                channel=channel,
                recipient=recipient,
                locale=applicant.preferred_locale,
                template_key=template_key,
                values=values,
                case_id=case_id,
                now=now,
            )
        )
    return created


def _attempt_one(
    factory: sessionmaker[Session],
    now: datetime,
    senders: Mapping[str, Sender],
    policy: RetryPolicy,
    report: DeliveryReport,
) -> bool:
    """Send the oldest due notification, in its own transaction; False when none is due."""
    with session_scope(factory) as session:
        notification = session.scalar(
            select(Notification)
            .where(
                Notification.status == "queued",
                Notification.next_attempt_at <= now,
                Notification.channel.in_(list(senders)),
            )
            .order_by(Notification.next_attempt_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if notification is None:
            return False
        notification.attempts += 1
        try:
            senders[notification.channel].send(notification)
        except Exception as exc:
            # Any failure counts as an attempt, so a message that crashes its sender ends as
            # failed instead of blocking the queue forever.
            message = exc.message if isinstance(exc, DeliveryError) else f"Unexpected error: {exc!r}"
            logger.warning(
                "Notification %s attempt %d failed: %s", notification.id, notification.attempts, message
            )
            notification.last_error = message[:2000]
            if isinstance(exc, PermanentDeliveryError) or notification.attempts >= policy.max_attempts:
                notification.status = "failed"
                report.failed.append(notification.id)
                _open_incident(session, notification)
            else:
                notification.next_attempt_at = now + policy.delay_after(notification.attempts)
                report.retrying.append(notification.id)
        else:
            notification.status = "sent"
            notification.sent_at = now
            notification.last_error = None
            report.sent.append(notification.id)
    return True


def _open_incident(session: Session, notification: Notification) -> None:
    """A case's notice that failed for good becomes an incident an admin retries
    (engine.workflow.timers.retry_incident queues it again). Notices of no case (account emails)
    stay ``failed`` on their row: the person asks again."""
    if notification.case_id is None:
        return
    from engine.workflow.models import Incident  # the engine's incidents; notifications sit below it

    session.add(
        Incident(
            case_id=notification.case_id,
            task_id=notification.id,
            kind="notification",
            bpmn_id=notification.template_key,
            handler=notification.channel,
            error=notification.last_error or "",
            attempts=notification.attempts,
            created_at=datetime.now(UTC),
        )
    )
    logger.error(
        "notification %s (%s to case %s) failed for good; incident opened (see `polis incidents list`)",
        notification.id,
        notification.channel,
        notification.case_id,
    )


def deliver_due(
    session_factory: sessionmaker[Session],
    now: datetime | None = None,
    *,
    senders: Mapping[str, Sender],
    policy: RetryPolicy | None = None,
    limit: int = 100,
    budget_seconds: float | None = None,
) -> DeliveryReport:
    """Send up to ``limit`` due notifications over the channels ``senders`` covers.

    Each attempt commits on its own, so a crash loses at most the message in flight;
    the row lock is held while sending so that a second worker skips it. With
    ``budget_seconds`` no new attempt starts after that long (a server that hangs
    until its timeout on every message must not keep one job running for hours; the
    rest wait for the next run).
    """
    moment = now or datetime.now(UTC)
    report = DeliveryReport()
    stop_at = None if budget_seconds is None else time.monotonic() + budget_seconds
    try:
        for _ in range(limit):
            if stop_at is not None and time.monotonic() >= stop_at:
                logger.warning(
                    "notifications: the run's %.0f s budget is spent; the rest wait", budget_seconds
                )
                break
            if not _attempt_one(session_factory, moment, senders, policy or RetryPolicy(), report):
                break
    finally:
        for sender in senders.values():
            sender.close()
    return report


def delivery_status(session: Session, case_id: uuid.UUID) -> list[Notification]:
    """The notifications of a case, oldest first (shown on the case to staff)."""
    return list(
        session.scalars(
            select(Notification).where(Notification.case_id == case_id).order_by(Notification.created_at)
        )
    )


def requeue_failed_notification(session: Session, notification_id: uuid.UUID, now: datetime) -> None:
    """Send a notice that had failed for good again, with a fresh budget of attempts."""
    notification = session.get(Notification, notification_id, with_for_update=True)
    if notification is None:
        raise NotFound(f"notification {notification_id} no longer exists; nothing to retry.")
    notification.status = "queued"
    notification.attempts = 0
    notification.next_attempt_at = now
    notification.last_error = None
    session.flush()
    wake_delivery(session)
