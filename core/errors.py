"""The base of every error Polis raises on purpose.

Each package subclasses these; ``web/errors.py`` maps the classes to HTTP statuses in
one place. A message says what is wrong and what to do about it: it is shown to people.
"""

from __future__ import annotations

from typing import Any


class PolisError(Exception):
    """An expected failure with a message meant for a person."""

    #: A stable machine-readable code, used by the API (``{"error": code}``).
    code: str = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ConfigurationError(PolisError):
    """A setting is missing or malformed; the message names it and shows a good value."""

    code = "configuration"


class InvalidInput(PolisError):
    """The caller sent something we cannot accept (4xx)."""

    code = "invalid_input"


class NotFound(PolisError):
    """The thing asked for does not exist, or the caller may not know that it does."""

    code = "not_found"


class Unauthenticated(PolisError):
    """The caller did not say who they are, or their credentials are not valid (HTTP 401)."""

    code = "authentication_required"


class PermissionDenied(PolisError):
    """The caller is known but not allowed to do this."""

    code = "forbidden"


class Conflict(PolisError):
    """The request is valid but clashes with the current state (e.g. a task already done)."""

    code = "conflict"


class ServiceUnavailable(PolisError):
    """A component we depend on (database, storage, TSA) cannot be reached right now."""

    code = "unavailable"
