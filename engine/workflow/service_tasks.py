"""Service task handlers: Python functions registered by name, run by the job loop.

The domains register theirs (engine.domains); the runtime only looks them up by topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from core.errors import ConfigurationError


@dataclass(frozen=True)
class ServiceCall:
    """What a handler gets: the case, a copy of the task data, and the case's transaction.

    A handler's database writes (a protocol entry, an issued document) go through
    ``session``: they commit together with the case step, so a retried step can never
    register the same document twice, and they run inside a savepoint that is rolled
    back if the handler fails.
    """

    case_id: uuid.UUID
    case_number: str
    bpmn_id: str
    data: dict[str, Any]
    session: Session = field(repr=False, compare=False)
    #: The task's input parameters from the BPMN file, ``${key}`` references resolved.
    params: dict[str, Any] = field(default_factory=dict)


def resolve_params(params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Replace values that are exactly ``${key}`` (or ``${key.sub}``) by that case data.

    Missing keys give None. Only keys are looked up; nothing is evaluated, so case data written by citizens
    can never run as code.
    """

    def lookup(path: str) -> Any:
        found: Any = data
        for part in path.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        return found

    def value(raw: Any) -> Any:
        if isinstance(raw, str) and raw.startswith("${") and raw.endswith("}"):
            return lookup(raw[2:-1].strip())
        if isinstance(raw, list):
            return [value(item) for item in raw]
        if isinstance(raw, dict):
            return {key: value(item) for key, item in raw.items()}
        return raw

    return {key: value(raw) for key, raw in params.items()}


Handler = Callable[[ServiceCall], dict[str, Any] | None]
_HANDLERS: dict[str, Handler] = {}


def register_handler(name: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler service tasks reach by ``name`` (its topic)."""

    def decorator(fn: Handler) -> Handler:
        if name in _HANDLERS and _HANDLERS[name] is not fn:
            raise ConfigurationError(f"two service handlers are registered as '{name}'; rename one.")
        _HANDLERS[name] = fn
        return fn

    return decorator


def get_handler(name: str | None) -> Handler | None:
    """The handler registered as ``name``, if any."""
    return _HANDLERS.get(name or "")


def unregister_handler(name: str) -> None:
    """Remove a handler (tests, plugin reloads)."""
    _HANDLERS.pop(name, None)
