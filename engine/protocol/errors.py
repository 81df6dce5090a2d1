"""Errors of the protocol registry; ``web/errors.py`` maps them to HTTP by their base class."""

from __future__ import annotations

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class InvalidEntry(InvalidInput):
    """A registration request is incomplete or inconsistent; ``details['fields']`` says where."""

    code = "protocol_invalid_entry"


class UnknownRegistry(InvalidInput):
    """The registry code names no registry."""

    code = "protocol_unknown_registry"


class EntryNotFound(NotFound):
    """No entry with that id or number exists, or the caller may not see it."""

    code = "protocol_entry_not_found"


class EntryRestricted(PermissionDenied):
    """The entry exists but its contents belong to other units (engine/protocol/visibility.py)."""

    code = "protocol_entry_restricted"


class AlreadyCancelled(Conflict):
    """The entry was cancelled before; a cancellation is final."""

    code = "protocol_already_cancelled"


class CorrectionOfCancelled(Conflict):
    """A cancelled entry cannot be corrected."""

    code = "protocol_correction_of_cancelled"


class NotCleared(PermissionDenied):
    """The user's clearance does not cover the entry's classification mark."""

    code = "protocol_not_cleared"


class NotProtocolClerk(PermissionDenied):
    """Only the protocol office (or an administrator) may do this."""

    code = "protocol_clerk_required"
