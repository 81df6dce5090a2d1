"""Rate-limit counters shared by every web worker and server, in PostgreSQL.

One row per (bucket, key, fixed window): an ``INSERT … ON CONFLICT DO UPDATE … RETURNING``
increments it atomically. The limit is checked against a sliding estimate: this window's
count plus the previous window's weighted by how much of it still overlaps the last
``window`` seconds (the usual two-window approximation). Keys (client addresses, account
names, email addresses) are stored only as a keyed digest. Each write runs in its own
statement on its own connection, committed by itself (autocommit: no BEGIN and COMMIT
round trips), so a counted attempt stays counted when the request that made it is rolled
back (a failed sign-in).

``bind`` is an Engine (the web app's own; tests give the app a separate one, see
``web.context.Services.limiter_engine``). This is the one limiter of Polis: sign-in attempts,
verification uploads and anonymous submissions (per address, per destination) all count here.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import time
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Index, Integer, String, delete, literal, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import utcnow
from core.orm import Base

#: One in this many hits also deletes the bucket's expired rows.
CLEANUP_ONE_IN = 200
#: The longest window any limit uses is a day; rows older than two of them count for nothing.
KEEP = timedelta(days=2)


class RateLimitCounter(Base):
    """The hits of one key in one bucket during one fixed window."""

    __tablename__ = "rate_limit_counters"

    bucket: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_rate_limit_counters_window_start", "window_start"),)


_WINDOWS = """
    to_timestamp(floor(extract(epoch FROM clock_timestamp()) / :window) * :window) AS current_start,
    (extract(epoch FROM clock_timestamp()) / :window) - floor(extract(epoch FROM clock_timestamp()) / :window)
        AS elapsed
"""
#: The counters need no flush to disk at commit (set_config(..., true) holds for this transaction
#: only): a crash may forget the last fraction of a second of counts, which costs a limit
#: nothing, while waiting for the disk on every tracking page or sign-in cost most of its time.
_NO_FSYNC = "set_config('synchronous_commit', 'off', true) AS no_fsync"
_HIT = text(
    f"""
WITH w AS (SELECT {_NO_FSYNC}, {_WINDOWS}),
bumped AS (
    INSERT INTO rate_limit_counters AS c (bucket, key_digest, window_start, hits)
    SELECT :bucket, :key, w.current_start, 1 FROM w
    ON CONFLICT (bucket, key_digest, window_start) DO UPDATE SET hits = c.hits + 1
    RETURNING c.hits
)
SELECT bumped.hits, w.elapsed,
       coalesce((SELECT p.hits FROM rate_limit_counters p
                 WHERE p.bucket = :bucket AND p.key_digest = :key
                   AND p.window_start = w.current_start - make_interval(secs => :window)), 0) AS previous
FROM bumped, w
"""  # noqa: S608 - constant SQL; every value is a bound parameter
)
_COUNT = text(
    f"""
WITH w AS (SELECT {_WINDOWS})
SELECT coalesce((SELECT hits FROM rate_limit_counters WHERE bucket = :bucket AND key_digest = :key
                   AND window_start = w.current_start), 0) AS hits,
       w.elapsed,
       coalesce((SELECT hits FROM rate_limit_counters WHERE bucket = :bucket AND key_digest = :key
                   AND window_start = w.current_start - make_interval(secs => :window)), 0) AS previous
FROM w
"""  # noqa: S608 - constant SQL; every value is a bound parameter
)
#: :meth:`SharedLimit.hit_unless` in one statement: the guard's estimate, and the count only
#: when the guard still has events left (its own window, ``g``, may differ from ``w``).
_HIT_UNLESS = text(
    f"""
WITH w AS (SELECT {_NO_FSYNC}, {_WINDOWS}),
g AS (SELECT {_WINDOWS.replace(":window", ":guard_window")}),
guard AS (
    SELECT coalesce((SELECT hits FROM rate_limit_counters WHERE bucket = :guard_bucket
                       AND key_digest = :guard_key AND window_start = g.current_start), 0) AS hits,
           g.elapsed,
           coalesce((SELECT hits FROM rate_limit_counters WHERE bucket = :guard_bucket
                       AND key_digest = :guard_key
                       AND window_start = g.current_start - make_interval(secs => :guard_window)), 0)
               AS previous
    FROM g
),
bumped AS (
    INSERT INTO rate_limit_counters AS c (bucket, key_digest, window_start, hits)
    SELECT :bucket, :key, w.current_start, 1 FROM w, guard
    WHERE guard.hits + guard.previous * (1.0 - guard.elapsed) < :guard_limit
    ON CONFLICT (bucket, key_digest, window_start) DO UPDATE SET hits = c.hits + 1
    RETURNING c.hits
)
SELECT bumped.hits, w.elapsed,
       coalesce((SELECT p.hits FROM rate_limit_counters p
                 WHERE p.bucket = :bucket AND p.key_digest = :key
                   AND p.window_start = w.current_start - make_interval(secs => :window)), 0) AS previous
FROM w CROSS JOIN guard LEFT JOIN bumped ON true
"""  # noqa: S608 - constant SQL; every value is a bound parameter
)
_RESET = text("DELETE FROM rate_limit_counters WHERE bucket = :bucket AND key_digest = :key")
_CLEANUP = text(
    "DELETE FROM rate_limit_counters WHERE bucket = :bucket "
    "AND window_start < clock_timestamp() - make_interval(secs => 2 * :window)"
)


class SharedLimit:
    """At most ``limit`` events per ``window`` seconds for each key, across all workers."""

    def __init__(self, bucket: str, limit: int, window: float) -> None:
        self.bucket = bucket
        self.limit = limit
        self.window = float(window)

    def _params(self, secret: str, key: str) -> dict[str, object]:
        digest = hmac.new(secret.encode(), f"{self.bucket}\0{key}".encode(), hashlib.sha256).hexdigest()
        return {"bucket": self.bucket, "key": digest, "window": self.window}

    def _estimate(self, hits: int, elapsed: float, previous: int) -> float:
        return hits + previous * (1.0 - float(elapsed))

    def hit(self, bind: Engine, secret: str, key: str) -> bool:
        """Count an event for ``key``; True while the key is within its limit."""
        params = self._params(secret, key)
        with _autocommit(bind) as connection:
            row = connection.execute(_HIT, params).one()
            if random.randrange(CLEANUP_ONE_IN) == 0:  # noqa: S311 - not security relevant
                connection.execute(_CLEANUP, params)
        return self._estimate(row.hits, row.elapsed, row.previous) <= self.limit

    def hit_unless(self, bind: Engine, secret: str, key: str, guard: SharedLimit) -> bool:
        """Count an event for ``key`` unless ``guard`` has used up its events for it; True if
        both allow it. One statement for both (a tracking page pays it on every view)."""
        params = self._params(secret, key)
        guarded = guard._params(secret, key)
        params.update(
            guard_bucket=guarded["bucket"],
            guard_key=guarded["key"],
            guard_window=guarded["window"],
            guard_limit=guard.limit,
        )
        with _autocommit(bind) as connection:
            row = connection.execute(_HIT_UNLESS, params).one()
            if row.hits is not None and random.randrange(CLEANUP_ONE_IN) == 0:  # noqa: S311
                connection.execute(_CLEANUP, params)
        if row.hits is None:  # the guard's events are used up: nothing was counted
            return False
        return self._estimate(row.hits, row.elapsed, row.previous) <= self.limit

    def over(self, bind: Engine, secret: str, key: str) -> bool:
        """Whether ``key`` has used up its events (counts nothing)."""
        with _autocommit(bind) as connection:
            row = connection.execute(_COUNT, self._params(secret, key)).one()
        return self._estimate(row.hits, row.elapsed, row.previous) >= self.limit

    def retry_after(self) -> int:
        """Seconds until the current window ends (a Retry-After header; the sliding estimate may
        free a slot a little earlier)."""
        return max(1, math.ceil(self.window - time.time() % self.window))

    def reset(self, bind: Engine, secret: str, key: str) -> None:
        """Forget ``key``'s events (e.g. an account's failures after a good sign-in)."""
        with _autocommit(bind) as connection:
            connection.execute(_RESET, self._params(secret, key))


def _autocommit(bind: Engine) -> Connection:
    """A connection whose every statement is its own transaction: each counter statement is
    atomic on its own, and no BEGIN and COMMIT round trips are paid around it."""
    return bind.connect().execution_options(isolation_level="AUTOCOMMIT")


def purge_counters(session: Session, *, now: datetime | None = None) -> int:
    """Delete every bucket's counters of windows long past (the worker's hourly upkeep)."""
    cutoff = (now or utcnow()) - KEEP
    gone = session.scalars(
        delete(RateLimitCounter).where(RateLimitCounter.window_start < cutoff).returning(literal(1))
    ).all()
    return len(gone)
