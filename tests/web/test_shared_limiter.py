"""One shared limiter: submissions, sign-ins and document checks count in one table
(core.ratelimits); the worker's upkeep removes counters of windows long past."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.ratelimits import KEEP, SharedLimit, purge_counters


def test_there_is_one_limiter_table(db_engine: Engine) -> None:
    tables = set(inspect(db_engine).get_table_names())
    assert "rate_limit_counters" in tables
    assert "rate_counters" not in tables  # folded in by 0027_portal_limits


def test_old_counters_are_purged_and_current_ones_kept(db_engine: Engine, db_session: Session) -> None:
    limit = SharedLimit("purge-test", 5, 3600)
    assert limit.hit(db_engine, "secret", "198.51.100.1")
    with db_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO rate_limit_counters (bucket, key_digest, window_start, hits)"
                " VALUES ('purge-test', 'old', :start, 3)"
            ),
            {"start": utcnow() - KEEP - timedelta(hours=1)},
        )
    assert purge_counters(db_session) == 1
    buckets = db_session.execute(
        text("SELECT key_digest FROM rate_limit_counters WHERE bucket = 'purge-test'")
    ).all()
    assert len(buckets) == 1 and buckets[0].key_digest != "old"
    assert 1 <= limit.retry_after() <= 3600
