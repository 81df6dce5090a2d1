"""Errors of outgoing documents; ``web/errors.py`` maps them to HTTP by their base class."""

from __future__ import annotations

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ServiceUnavailable


class DraftInvalid(InvalidInput):
    """A draft's details are incomplete or wrong; ``details['fields']`` says where."""

    code = "outgoing_invalid"


class BodyInvalid(InvalidInput):
    """The body file is not a PDF, DOCX or ODT that opens; nothing was saved."""

    code = "outgoing_body_invalid"


class OutgoingNotFound(NotFound):
    """No such outgoing document or version, or the caller may not know of it."""

    code = "outgoing_not_found"


class NotYourTurn(PermissionDenied):
    """The caller is not the one the chain waits for (nor their substitute), or not the author."""

    code = "outgoing_not_your_turn"


class WrongState(Conflict):
    """The document moved on meanwhile (submitted, returned, signed); refresh and look again."""

    code = "outgoing_wrong_state"


class SigningDeferred(ServiceUnavailable):
    """A signing service (TSA, OCSP, CSC) is down: the document waits, nothing was registered."""

    code = "outgoing_signing_deferred"
