"""Rate limits of the web app, shared by every worker and server (counters in PostgreSQL).

Each limit is a bucket of :class:`core.ratelimits.SharedLimit`; this wrapper finds the
app's limiter engine and secret. Behind reverse proxies the client address is the one the
nearest configured proxy saw (``POLIS_PROXY_COUNT``, ProxyFix in web/app.py).
"""

from __future__ import annotations

from flask import request

from core.ratelimits import SharedLimit
from web.context import services


class SharedWindow:
    """At most ``limit`` events per ``window`` seconds for each key, across all workers."""

    def __init__(self, bucket: str, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._shared = SharedLimit(bucket, limit, window)

    def hit(self, key: str) -> bool:
        """Record an event; True if it is within the limit."""
        polis = services()
        return self._shared.hit(polis.limiter(), polis.settings.secret(), key)

    def hit_unless(self, key: str, guard: SharedWindow) -> bool:
        """Record an event unless ``guard`` is over its limit for ``key``; True if both allow it."""
        polis = services()
        return self._shared.hit_unless(polis.limiter(), polis.settings.secret(), key, guard._shared)

    def over(self, key: str) -> bool:
        """Whether ``key`` has used up its events in the current window (records nothing)."""
        polis = services()
        return self._shared.over(polis.limiter(), polis.settings.secret(), key)

    def retry_after(self) -> int:
        """Seconds until the current window ends (for a Retry-After header)."""
        return self._shared.retry_after()

    def reset(self, key: str) -> None:
        """Forget ``key``'s events."""
        polis = services()
        self._shared.reset(polis.limiter(), polis.settings.secret(), key)


def client_address() -> str:
    """The client's address as the rate limits key it."""
    return request.remote_addr or "unknown"
