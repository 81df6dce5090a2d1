"""A small in-process limiter for public lookups (tracking codes): a brake on guessing.

Counters live in each web worker's memory (gunicorn runs a few), so the effective limit is
per worker; a reverse proxy in front adds the hard, shared limit. Enough to make guessing a
192-bit code pointless and to keep one client from flooding the database.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from flask import request


def client_address() -> str:
    """The address limits count by: the client's, as the WSGI server (or ProxyFix) reports it."""
    return request.remote_addr or "unknown"


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(self, limit: int, window: float, max_keys: int = 50_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:  # forget the oldest client, not everyone
                self._events.pop(next(iter(self._events)))
            events = self._events[key] = deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def over(self, key: str) -> bool:
        """Whether ``key`` has used up its events in the current window (records nothing)."""
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.limit

    def hit(self, key: str) -> bool:
        """Record an event; True if it is within the limit."""
        now = time.monotonic()
        with self._lock:
            events = self._recent(key, now)
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True
