"""The SMTP listener the municipal MTA delivers the mailbox to (`polis mail serve`).

Each DATA is kept in its own transaction (engine.documents.mail.accept_message) before the
server answers 250, so a message the MTA was told we took is never lost; a failure answers 451
and the MTA retries later. Run it on loopback (or behind the MTA): it does no authentication.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from engine.documents.mail import accept_message
from storage import ObjectStore

log = logging.getLogger(__name__)

#: Largest message the listener takes (base64 makes a 30 MB attachment about 41 MB).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class IntakeHandler:
    """aiosmtpd handler: keep every message as a draft (or held) registration."""

    def __init__(self, factory: sessionmaker[Session], store: ObjectStore) -> None:
        self.factory = factory
        self.store = store

    def _keep(self, raw: bytes, envelope_from: str | None) -> tuple[str, bool]:
        with self.factory.begin() as session:
            draft, new = accept_message(session, self.store, raw, envelope_from=envelope_from)
            return draft.status, new

    async def handle_DATA(self, server: Any, smtp_session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        """Keep the message; 250 once it is committed, 451 (try again later) if it could not be."""
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "surrogateescape")
        try:
            status, new = await asyncio.get_running_loop().run_in_executor(
                None, self._keep, data, envelope.mail_from
            )
        except Exception:
            log.exception("could not keep an incoming message")
            return "451 4.3.0 Could not store the message; try again later"
        log.info("message kept: %s%s", status, "" if new else " (a second delivery, ignored)")
        return "250 2.0.0 Message accepted for delivery"


def start_listener(factory: sessionmaker[Session], store: ObjectStore, host: str, port: int) -> Controller:
    """Start the listener in a thread of its own; stop it with ``.stop()``."""
    controller = Controller(
        IntakeHandler(factory, store), hostname=host, port=port, data_size_limit=MAX_MESSAGE_BYTES
    )
    controller.start()
    return controller
