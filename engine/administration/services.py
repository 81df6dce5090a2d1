"""The service catalogue's switches: an administrator takes a service off the portal and the API.

The services themselves are files (forms/catalogue); whether each is offered is a row here,
so turning one off needs no change to the files and is audited. A switched-off service is
left out of the portal's catalogue and new requests for it are refused with a clear
message; cases already started go on as usual.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import utcnow
from core.errors import Conflict
from core.orm import Base
from engine.administration.access import require_admin
from engine.people.admin_audit import record_admin_event
from engine.workflow.directory import Performer
from forms.catalogue import get_service, list_services
from forms.services import Service


class ServiceSwitch(Base):
    """Whether a catalogue service accepts new requests (no row: it does)."""

    __tablename__ = "service_switches"

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column()
    changed_by: Mapped[str] = mapped_column(String(200))


class ServiceDisabled(Conflict):
    """A new request for a service the municipality has switched off."""

    code = "service_disabled"


def disabled_service_codes(session: Session) -> set[str]:
    """The codes of the services switched off."""
    return set(session.scalars(select(ServiceSwitch.code).where(ServiceSwitch.enabled.is_(False))))


def offered_services(session: Session) -> list[Service]:
    """The catalogue without the services switched off (what the portal lists)."""
    off = disabled_service_codes(session)
    return [service for service in list_services() if service.code not in off]


def check_service_open(session: Session, code: str) -> None:
    """Refuse a new request for a switched-off service."""
    switch = session.get(ServiceSwitch, code)
    if switch is not None and not switch.enabled:
        service = get_service(code)
        raise ServiceDisabled(
            f"The service «{service.title.el}» ({code}) does not accept new requests at the moment; "
            "contact the municipality. Requests already submitted go on as usual.",
            service=code,
        )


@dataclass(frozen=True)
class ServiceState:
    """A service with whether it is offered, and who last changed that."""

    service: Service
    enabled: bool
    switch: ServiceSwitch | None


def _enabled(switch: ServiceSwitch | None) -> bool:
    return switch is None or switch.enabled


def service_states(session: Session, user: Performer) -> list[ServiceState]:
    """Every catalogue service with its switch."""
    require_admin(user)
    switches = {s.code: s for s in session.scalars(select(ServiceSwitch))}
    return [
        ServiceState(service, _enabled(switches.get(service.code)), switches.get(service.code))
        for service in list_services()
    ]


def switch_service(session: Session, user: Performer, code: str, *, enabled: bool) -> bool:
    """Turn a service on or off; whether that changed anything (audited when it did)."""
    by = require_admin(user)
    get_service(code)  # UnknownService (404) for a code not in the catalogue
    switch = session.get(ServiceSwitch, code, with_for_update=True)
    currently = switch.enabled if switch is not None else True  # no row: offered
    if currently == enabled:
        return False
    if switch is None:
        switch = ServiceSwitch(code=code)
        session.add(switch)
    switch.enabled, switch.changed_at = enabled, utcnow()
    switch.changed_by_id, switch.changed_by = by.id, by.name
    session.flush()
    record_admin_event(session, by, "service.enable" if enabled else "service.disable", {"service": code})
    return True
