"""Gap-free yearly numbering under concurrency, rollbacks and the Athens new year."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from engine.people.models import User
from engine.protocol.entries import create_registry, register
from engine.protocol.models import ProtocolEntry
from tests.protocol.factories import draft, fixed_clock, make_user

THREADS = 32
PER_THREAD = 200


@pytest.fixture
def fresh_engine(fresh_db_url: str) -> Iterator[Engine]:
    """An engine with a connection per thread on a database of its own."""
    engine = create_engine(fresh_db_url, pool_size=THREADS, max_overflow=0)
    with Session(engine) as session, session.begin():
        create_registry(session, "ΔΤΥ", "Διεύθυνση Τεχνικών Υπηρεσιών", "Technical Services")
        make_user(session)
    yield engine
    engine.dispose()


def _hammer(engine: Engine, rollback_share: float) -> dict[str, int]:
    """THREADS × PER_THREAD registrations over two registries; returns commits per registry."""
    committed = {"GEN": 0, "ΔΤΥ": 0}
    lock = threading.Lock()
    errors: list[BaseException] = []
    with Session(engine, expire_on_commit=False) as session:
        clerk = session.scalars(select(User)).one()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(PER_THREAD):
                code = rng.choice(("GEN", "ΔΤΥ"))
                with Session(engine) as session:
                    register(session, draft(registry=code), registered_by=clerk)
                    if rng.random() < rollback_share:
                        session.rollback()
                        continue
                    session.commit()
                with lock:
                    committed[code] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    return committed


def _numbers(engine: Engine, code: str) -> list[int]:
    with Session(engine) as session:
        return list(
            session.scalars(
                text(
                    "SELECT e.number FROM protocol_entries e JOIN protocol_registries r"
                    " ON r.id = e.registry_id WHERE r.code = :code ORDER BY e.number"
                ),
                {"code": code},
            )
        )


@pytest.mark.parametrize("rollback_share", [0.0, 0.25], ids=["commits", "random-rollbacks"])
def test_concurrent_registrations_are_gap_free(fresh_engine: Engine, rollback_share: float) -> None:
    committed = _hammer(fresh_engine, rollback_share)
    if not rollback_share:
        assert sum(committed.values()) == THREADS * PER_THREAD
    for code, count in committed.items():
        assert count > 0
        assert _numbers(fresh_engine, code) == list(range(1, count + 1))
    _assert_times_follow_numbers(fresh_engine)


def _assert_times_follow_numbers(engine: Engine) -> None:
    with Session(engine) as session:
        rows = session.execute(
            select(ProtocolEntry.registry_id, ProtocolEntry.number, ProtocolEntry.registered_at).order_by(
                ProtocolEntry.registry_id, ProtocolEntry.number
            )
        ).all()
    for before, after in itertools.pairwise(rows):
        if before.registry_id == after.registry_id:
            assert before.registered_at <= after.registered_at


# 22:00 UTC on 31 December is midnight in Athens (EET, UTC+2).
ATHENS_MIDNIGHT = datetime(2026, 12, 31, 22, 0, tzinfo=UTC)


def test_series_restarts_at_athens_midnight(db_session: Session) -> None:
    clerk = make_user(db_session)
    last_second = ATHENS_MIDNIGHT - timedelta(microseconds=1)
    entries = [
        register(db_session, draft(), registered_by=clerk, now=fixed_clock(moment))
        for moment in (
            ATHENS_MIDNIGHT - timedelta(hours=3),  # 21:00 Athens, still 2026 in UTC too
            last_second,
            ATHENS_MIDNIGHT,  # 2027 in Athens though still 31/12 in UTC
            ATHENS_MIDNIGHT + timedelta(minutes=1),
        )
    ]
    base = entries[0].number
    assert [(e.year, e.number - (base if e.year == 2026 else 0)) for e in entries] == [
        (2026, 0),
        (2026, 1),
        (2027, 1),
        (2027, 2),
    ]
    assert entries[2].registered_at == ATHENS_MIDNIGHT


def test_a_clock_going_back_never_gives_an_earlier_time_to_a_later_number(db_session: Session) -> None:
    first = register(db_session, draft(), now=fixed_clock(ATHENS_MIDNIGHT + timedelta(hours=5)))
    second = register(db_session, draft(), now=fixed_clock(ATHENS_MIDNIGHT + timedelta(hours=1)))
    assert second.number == first.number + 1
    assert second.registered_at == first.registered_at


def test_a_rolled_back_registration_gives_its_number_back(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        taken = register(session, draft(), now=fixed_clock(datetime(2031, 5, 1, tzinfo=UTC))).number
        session.rollback()
    with Session(db_engine) as session:
        again = register(session, draft(), now=fixed_clock(datetime(2031, 5, 2, tzinfo=UTC)))
        assert again.number == taken == 1
        session.rollback()
