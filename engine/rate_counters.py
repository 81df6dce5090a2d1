"""Fixed-window rate counters kept in PostgreSQL, so every web worker and server shares them.

A counter is one row per (scope, key, window start), incremented with an upsert that returns
the new count: atomic under concurrency, no read-modify-write race, and as durable as the
database. Keys (client addresses, email addresses, phone numbers) are stored only as an HMAC
under the installation's secret: the table holds no personal data and reveals none in a dump.

Call :meth:`FixedWindow.hit` in a short transaction of its own (see ``web.limits``) so that a
refused request, whose own transaction rolls back, is still counted.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Integer, String, delete, literal
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import utcnow
from core.orm import Base

#: Rows older than this are deleted by purge_counters (longer than any window we use).
KEEP = timedelta(days=2)


class RateCounter(Base):
    """How many events one key had in one window of one limit."""

    __tablename__ = "rate_counters"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_hmac: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class FixedWindow:
    """At most ``limit`` events per key in each ``seconds``-long window (aligned to the epoch)."""

    scope: str
    limit: int
    seconds: int

    def window_start(self, now: datetime) -> datetime:
        """The start of the window ``now`` falls in."""
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.seconds, tz=UTC)

    def hit(self, session: Session, key: str, *, secret: str, now: datetime | None = None) -> bool:
        """Count one event for ``key``; True while the window's count is within the limit."""
        start = self.window_start(now or utcnow())
        digest = hmac.new(secret.encode(), f"{self.scope}\0{key}".encode(), hashlib.sha256).hexdigest()
        statement = (
            insert(RateCounter)
            .values(scope=self.scope, key_hmac=digest, window_start=start, hits=1)
            .on_conflict_do_update(
                index_elements=["scope", "key_hmac", "window_start"], set_={"hits": RateCounter.hits + 1}
            )
            .returning(RateCounter.hits)
        )
        return int(session.execute(statement).scalar_one()) <= self.limit

    def retry_after(self, now: datetime | None = None) -> int:
        """Seconds until the current window ends (for a Retry-After header)."""
        moment = now or utcnow()
        return max(
            1, int((self.window_start(moment) + timedelta(seconds=self.seconds) - moment).total_seconds())
        )


def purge_counters(session: Session, *, now: datetime | None = None) -> int:
    """Delete counters of windows long past; returns how many rows went."""
    cutoff = (now or utcnow()) - KEEP
    gone = session.scalars(
        delete(RateCounter).where(RateCounter.window_start < cutoff).returning(literal(1))
    ).all()
    return len(gone)
