"""How notifications leave Polis: SMTP for email, an HTTP gateway for SMS.

A sender raises DeliveryError when trying again later may work (server down, 4xx SMTP
reply, HTTP 5xx) and PermanentDeliveryError when it cannot (address refused, HTTP 4xx).
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol

import requests

from core.errors import PolisError
from core.settings import Settings
from engine.notifications.models import Notification


class DeliveryError(PolisError):
    """Sending failed for now; the outbox tries again later."""

    code = "delivery_failed"


class PermanentDeliveryError(DeliveryError):
    """Sending can never work (e.g. the recipient is refused); no more attempts."""


class Sender(Protocol):
    """Sends one notification or raises DeliveryError."""

    def send(self, notification: Notification) -> None:
        """Deliver ``notification`` to its recipient."""

    def close(self) -> None:
        """Release what ``send`` kept open (connections) at the end of a delivery run."""


def build_email(notification: Notification, sender: str) -> EmailMessage:
    """The MIME message of an email notification: text, plus HTML when there is some."""
    message = EmailMessage()
    message["Subject"] = notification.subject or ""
    message["From"] = sender
    message["To"] = notification.recipient
    message["Date"] = format_datetime(notification.created_at or datetime.now(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "polis.invalid"
    # The same Message-ID on every attempt of one notification (the notification's id, not
    # make_msgid's time and random part): if the database dies after the server took the
    # message and before it is marked sent, the retry is the same message, which mail
    # servers and clients that deduplicate by Message-ID drop. SMTP itself cannot promise
    # it (see the README, "Operating Polis").
    message["Message-ID"] = f"<{notification.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = notification.locale
    message.set_content(notification.body_text)
    if notification.body_html:
        message.add_alternative(notification.body_html, subtype="html")
    return message


class SmtpSender:
    """Email over SMTP (smtplib), with STARTTLS and login when configured.

    A connection is kept per thread for the length of a delivery run (``close`` ends it):
    a TLS handshake and login per message would cost more than the message.
    """

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        sender: str,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Where and how to connect; nothing is opened until ``send``."""
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls = user, password, starttls
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._local = threading.local()

    def _connection(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP | None = getattr(self._local, "smtp", None)
        if smtp is not None:
            try:
                if smtp.noop()[0] == 250:
                    return smtp
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self._local.smtp = smtp
        return smtp

    def close(self) -> None:
        """End this thread's SMTP connection, if one is open."""
        smtp: smtplib.SMTP | None = getattr(self._local, "smtp", None)
        self._local.smtp = None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def send(self, notification: Notification) -> None:
        """Hand the email to the SMTP server."""
        message = build_email(notification, self.sender)
        try:
            self._connection().send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            # smtplib has reset the transaction: the connection stays usable.
            codes = [code for code, _ in exc.recipients.values()]
            error = PermanentDeliveryError if all(500 <= c < 600 for c in codes) else DeliveryError
            raise error(f"The SMTP server refused {notification.recipient}: {exc.recipients}.") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            error = PermanentDeliveryError if exc.smtp_code in (550, 551, 553) else DeliveryError
            raise error(f"SMTP {self.host}:{self.port} answered {exc.smtp_code} {exc.smtp_error!r}.") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryError(
                f"Cannot send email through {self.host}:{self.port}: {exc or type(exc).__name__}."
            ) from exc


class HttpSmsSender:
    """SMS through an HTTP gateway that takes ``POST {"to", "text", "reference"}`` as JSON."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0) -> None:
        """The gateway's address and bearer token."""
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, notification: Notification) -> None:
        """Post the SMS to the gateway; 2xx means accepted."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            # The notification's id as the gateway's reference (and Idempotency-Key): a
            # retry after a crash between the gateway's "accepted" and our "sent" carries
            # the same one, so a gateway that deduplicates sends the SMS once.
            response = requests.post(
                self.url,
                json={
                    "to": notification.recipient,
                    "text": notification.body_text,
                    "reference": str(notification.id),
                },
                headers={**headers, "Idempotency-Key": str(notification.id)},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise DeliveryError(f"Cannot reach the SMS gateway {self.url}: {exc}.") from exc
        if 200 <= response.status_code < 300:
            return
        detail = f"The SMS gateway answered {response.status_code}: {response.text[:200]!r}."
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise PermanentDeliveryError(detail)
        raise DeliveryError(detail)

    def close(self) -> None:
        """Nothing is kept open between messages."""


class FileSender:
    """Development: writes each notice as a file (``.eml`` for email, ``.txt`` for SMS).

    ``make run``'s demo uses it so that a newcomer sees what citizens would receive.
    """

    def __init__(self, directory: Path, channel: str, sender: str) -> None:
        self.directory = directory
        self.channel = channel
        self.sender = sender

    def send(self, notification: Notification) -> None:
        """Write the notice (atomically: a reader never sees half a file)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            if self.channel == "email":
                data = build_email(notification, self.sender).as_bytes()
                name = f"{stamp}-{notification.id}.eml"
            else:
                data = f"To: {notification.recipient}\n\n{notification.body_text}\n".encode()
                name = f"{stamp}-{notification.id}.sms.txt"
            partial = self.directory / f".{name}.part"
            partial.write_bytes(data)
            partial.replace(self.directory / name)
        except OSError as exc:
            raise DeliveryError(f"cannot write to the outbox directory {self.directory}: {exc}") from exc

    def close(self) -> None:
        """Nothing is kept open."""


def senders_from_settings(settings: Settings) -> dict[str, Sender]:
    """The senders the settings configure; a channel left out keeps its messages queued."""
    senders: dict[str, Sender] = {}
    if settings.outbox_dir is not None:
        senders["email"] = FileSender(settings.outbox_dir, "email", settings.smtp_from)
        senders["sms"] = FileSender(settings.outbox_dir, "sms", settings.smtp_from)
    if settings.smtp_host:
        senders["email"] = SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )
    if settings.sms_gateway_url:
        token = settings.sms_gateway_token.get_secret_value() if settings.sms_gateway_token else None
        senders["sms"] = HttpSmsSender(settings.sms_gateway_url, token)
    return senders


def email_address_ok(value: str) -> bool:
    """Whether ``value`` parses as one plain email address."""
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError, TypeError):
        return False
    return bool(address.username and "." in address.domain)
