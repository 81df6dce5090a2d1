"""Errors of the document flow; ``web/errors.py`` maps them to HTTP by their base class."""

from __future__ import annotations

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class DocumentInvalid(InvalidInput):
    """A registration, χρέωση, filing or re-assignment is incomplete; ``details['fields']`` says where."""

    code = "document_invalid"


class UnknownUnit(InvalidInput):
    """A χρέωση names a unit that does not exist (any more)."""

    code = "document_unknown_unit"


class DocumentNotFound(NotFound):
    """No such document or assignment, or the caller may not know of it."""

    code = "document_not_found"


class DocumentRestricted(PermissionDenied):
    """The document is classified and belongs to other units and people."""

    code = "document_restricted"


class NotAllowed(PermissionDenied):
    """The caller's role or unit does not allow this step."""

    code = "document_not_allowed"


class AlreadyHandled(Conflict):
    """The assignment was filed, answered or re-assigned meanwhile."""

    code = "document_already_handled"
