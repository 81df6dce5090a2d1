"""The registration time is the database's clock; display numbers name their registry (issue 13 item 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.protocol.entries import create_registry, register
from tests.protocol.factories import draft


def test_an_app_server_with_a_wrong_clock_does_not_change_the_legal_time(db_session: Session) -> None:
    database_before = db_session.scalar(select(func.clock_timestamp()))
    # This app server's clock is three years ahead (and frozen).
    with time_machine.travel(datetime.now(UTC) + timedelta(days=3 * 365), tick=False):
        entry = register(db_session, draft())
    database_after = db_session.scalar(select(func.clock_timestamp()))
    assert database_before <= entry.registered_at <= database_after
    athens_year = db_session.scalar(
        text("SELECT extract(year FROM CAST(:at AS timestamptz) AT TIME ZONE 'Europe/Athens')::int"),
        {"at": entry.registered_at},
    )
    assert entry.year == athens_year


def test_the_display_number_names_a_registry_other_than_the_general_one(db_session: Session) -> None:
    create_registry(db_session, "ΔΤΥ", "Διεύθυνση Τεχνικών Υπηρεσιών", "Technical Services")
    general = register(db_session, draft())
    technical = register(db_session, draft(registry="ΔΤΥ"))
    assert general.display_number == f"{general.number} {general.direction} {general.year}"
    assert technical.display_number == f"ΔΤΥ {technical.number} {technical.direction} {technical.year}"
    assert technical.display_number != general.display_number
