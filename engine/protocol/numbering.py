"""Gap-free yearly numbering: one locked counter row per (registry, year).

The entry is inserted by ONE statement whose first step is
``INSERT INTO protocol_counters … ON CONFLICT DO UPDATE … RETURNING``: the counter row stays
locked until the caller's transaction ends, so a rollback gives the number back, a commit
makes it final, and two transactions can never receive the same number.
``max(number) + 1`` is never used: under concurrency it repeats numbers.

Registration time: the database's clock (``clock_timestamp()``), read by the numbering
statement itself, so every app server agrees on the legal time whatever its own clock says
(tests may inject a clock). The counter row keeps the latest time given in its series and
an entry gets ``greatest(clock, latest)``, so within a series a higher number never has an
earlier time. The year is the Athens calendar year of that clock reading and the time stays
in that year.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.clock import athens_year

#: The legal clock; tests inject a frozen one.
Clock = Callable[[], datetime]


def protocol_year(moment: datetime) -> int:
    """The series a moment belongs to: the calendar year in Athens (as for case numbers)."""
    return athens_year(moment)


# One statement numbers and inserts. The registry is looked up by code inside the counter
# upsert: an unknown or inactive code yields no counter row, hence no number and no entry,
# and the caller reports it. Written as SQL (not built per call) because the counter row is
# locked from here to the commit: the less Python runs meanwhile, the faster numbering is.
_NUMBERED_INSERT = """
WITH clock AS (
    SELECT coalesce(%(clock)s::timestamptz, clock_timestamp()) AS at
), counter AS (
    INSERT INTO protocol_counters AS c (registry_id, year, last_number, last_registered_at)
    SELECT r.id, extract(year FROM clock.at AT TIME ZONE 'Europe/Athens')::int, 1, clock.at
    FROM protocol_registries AS r, clock
    WHERE r.code = %(registry_code)s AND r.is_active
    ON CONFLICT (registry_id, year) DO UPDATE
        SET last_number = c.last_number + 1,
            last_registered_at = greatest(c.last_registered_at, excluded.last_registered_at)
    RETURNING c.registry_id, c.year, c.last_number, c.last_registered_at
)
INSERT INTO protocol_entries (registry_id, year, number, registered_at, {columns})
SELECT counter.registry_id, counter.year, counter.last_number, counter.last_registered_at, {values}
FROM counter
RETURNING id, registry_id, year, number, registered_at
"""

#: The entry columns a caller provides, in statement order.
ENTRY_COLUMNS = (
    "direction",
    "subject",
    "sender",
    "sender_reference",
    "sender_date",
    "recipients",
    "copies",
    "attachments_count",
    "attachments_description",
    "delivery_method",
    "document_type",
    "classification",
    "case_id",
    "case_number",
    "registered_by_id",
    "unit_id",
    "corrects_id",
)
_CASTS = {"recipients": "::text[]", "copies": "::text[]", "sender_date": "::date"}
NUMBERED_INSERT_SQL = _NUMBERED_INSERT.format(
    columns=", ".join(ENTRY_COLUMNS),
    values=", ".join(f"%({name})s{_CASTS.get(name, '')}" for name in ENTRY_COLUMNS),
)


@dataclass(frozen=True)
class Numbered:
    """What the numbered insert returns."""

    id: uuid.UUID
    registry_id: int
    year: int
    number: int
    registered_at: datetime


def insert_numbered(
    session: Session, registry_code: str, moment: datetime | None, values: Mapping[str, Any]
) -> Numbered | None:
    """Number and insert an entry in one round trip; None if the registry is unknown/inactive.

    ``moment`` None = the database's clock (production); a value = an injected clock (tests).
    The counter row stays locked until the caller's transaction ends.
    """
    params = {**values, "registry_code": registry_code, "clock": moment}
    # Straight to psycopg on the session's connection (same transaction): SQLAlchemy's
    # execution machinery costs more CPU than the statement, and the lock is held meanwhile.
    driver = session.connection().connection.driver_connection
    assert driver is not None
    row = driver.execute(NUMBERED_INSERT_SQL, params).fetchone()
    return Numbered(*row) if row is not None else None
