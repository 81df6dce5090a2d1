"""Gap-free yearly numbering: one locked counter row per (registry, year).

The entry is inserted by ONE statement whose first step is
``INSERT INTO protocol_counters … ON CONFLICT DO UPDATE … RETURNING``: the counter row stays
locked until the caller's transaction ends, so a rollback gives the number back, a commit
makes it final, and two transactions can never receive the same number.
``max(number) + 1`` is never used: under concurrency it repeats numbers.

Registration time: the clock is read before waiting for the lock; the counter row keeps the
latest time given in its series and an entry gets ``greatest(clock, latest)``, so within a
series a higher number never has an earlier time, even with an injected or skewed clock.
The year is the Athens calendar year of the clock reading and the time stays in that year.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, Table, bindparam, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from engine.protocol.models import ProtocolEntry, Registry, RegistryCounter

ATHENS = ZoneInfo("Europe/Athens")

#: The legal clock; tests inject a frozen one.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The server clock, in UTC."""
    return datetime.now(UTC)


def protocol_year(moment: datetime) -> int:
    """The series a moment belongs to: the calendar year in Athens."""
    if moment.tzinfo is None:
        raise ValueError("The clock must return aware datetimes (UTC); got a naive one.")
    return moment.astimezone(ATHENS).year


def _build_numbered_insert(columns: tuple[str, ...]) -> Insert:
    """``WITH counter AS (upsert … RETURNING) INSERT INTO protocol_entries SELECT … FROM counter``.

    The registry is looked up by code inside the upsert: an unknown or inactive code yields
    no counter row, hence no number and no entry, and the caller reports it.
    """
    # Core tables, not the ORM classes: this is one hand-built statement, not a bulk insert.
    counters: Table = RegistryCounter.__table__  # type: ignore[assignment]
    entries: Table = ProtocolEntry.__table__  # type: ignore[assignment]
    registries: Table = Registry.__table__  # type: ignore[assignment]
    chosen = select(
        registries.c.id,
        bindparam("year", type_=counters.c.year.type),
        literal(1, type_=counters.c.last_number.type),
        bindparam("clock", type_=counters.c.last_registered_at.type),
    ).where(registries.c.code == bindparam("registry_code"), registries.c.is_active.is_(True))
    upsert = pg_insert(counters).from_select(
        ["registry_id", "year", "last_number", "last_registered_at"], chosen
    )
    counter = (
        upsert.on_conflict_do_update(
            index_elements=[counters.c.registry_id, counters.c.year],
            set_={
                "last_number": counters.c.last_number + 1,
                "last_registered_at": func.greatest(
                    counters.c.last_registered_at, upsert.excluded.last_registered_at
                ),
            },
        )
        .returning(
            counters.c.registry_id, counters.c.year, counters.c.last_number, counters.c.last_registered_at
        )
        .cte("counter")
    )
    values = select(
        counter.c.registry_id,
        counter.c.year,
        counter.c.last_number,
        counter.c.last_registered_at,
        *(bindparam(name, type_=entries.c[name].type) for name in columns),
    ).select_from(counter)
    target = ("registry_id", "year", "number", "registered_at", *columns)
    return (
        insert(entries)
        .from_select(list(target), values)
        .returning(
            entries.c.id, entries.c.registry_id, entries.c.year, entries.c.number, entries.c.registered_at
        )
    )


_STATEMENTS: dict[tuple[str, ...], Insert] = {}


def numbered_insert(
    registry_code: str, moment: datetime, values: Mapping[str, Any]
) -> tuple[Insert, dict[str, Any]]:
    """The statement and parameters that number and insert an entry in one round trip."""
    columns = tuple(sorted(values))
    statement = _STATEMENTS.get(columns)
    if statement is None:
        statement = _STATEMENTS.setdefault(columns, _build_numbered_insert(columns))
    params = {**values, "registry_code": registry_code, "year": protocol_year(moment), "clock": moment}
    return statement, params
