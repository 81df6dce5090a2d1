"""One shared limiter: submissions, sign-ins and document checks count in one table
(core.ratelimits); the worker's upkeep removes counters of windows long past."""

from __future__ import annotations

import uuid
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


def test_a_guarded_hit_counts_only_while_the_guard_has_events_left(db_engine: Engine) -> None:
    """hit_unless (the tracking page: lookups unless the misses are used up) in one statement:
    both limits hold, counts persist on their own, and a refused lookup counts nothing."""
    run = uuid.uuid4().hex[:12]
    lookups = SharedLimit(f"lookups-{run}", 3, 3600)
    misses = SharedLimit(f"misses-{run}", 2, 7200)
    try:
        assert [lookups.hit_unless(db_engine, "secret", "198.51.100.7", misses) for _ in range(4)] == [
            True,
            True,
            True,
            False,  # the lookups' own limit
        ]
        other = "198.51.100.8"
        assert lookups.hit_unless(db_engine, "secret", other, misses)
        assert misses.hit(db_engine, "secret", other) and misses.hit(db_engine, "secret", other)
        assert misses.over(db_engine, "secret", other)
        assert not lookups.hit_unless(db_engine, "secret", other, misses)  # the guard's limit
        with db_engine.connect() as connection:
            counted = dict(
                connection.execute(
                    text(
                        "SELECT bucket, sum(hits) FROM rate_limit_counters"
                        " WHERE bucket LIKE :run GROUP BY bucket"
                    ),
                    {"run": f"%-{run}"},
                ).all()
            )
        # 4 + 1 lookups counted (the refused one of the guard not at all), 2 misses.
        assert counted == {f"lookups-{run}": 5, f"misses-{run}": 2}
        lookups.reset(db_engine, "secret", other)
        assert lookups.hit_unless(db_engine, "secret", "198.51.100.9", misses)
    finally:
        with db_engine.begin() as connection:
            connection.execute(
                text("DELETE FROM rate_limit_counters WHERE bucket LIKE :run"), {"run": f"%-{run}"}
            )
