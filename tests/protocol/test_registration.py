"""Registering, cancelling and correcting; bad input never consumes a number."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.protocol.drafts import FileRef, draft_from_mapping
from engine.protocol.entries import (
    cancel,
    correct,
    create_registry,
    describe,
    get_entry,
    get_registry,
    register,
    related_ids,
)
from engine.protocol.errors import (
    AlreadyCancelled,
    CorrectionOfCancelled,
    EntryNotFound,
    InvalidEntry,
    NotCleared,
    NotProtocolClerk,
    UnknownRegistry,
)
from engine.protocol.models import Classification, RegistryCounter
from engine.protocol.numbering import protocol_year
from tests.protocol.factories import draft, fixed_clock, incoming, make_user

MOMENT = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
NOW = fixed_clock(MOMENT)


def next_number(session: Session, code: str = "GEN") -> int:
    """The number the next registration in the registry would get."""
    last = session.scalar(
        select(RegistryCounter.last_number).where(
            RegistryCounter.year == protocol_year(MOMENT),
            RegistryCounter.registry_id == get_registry(session, code).id,
        )
    )
    return (last or 0) + 1


def test_an_incoming_document_gets_its_number_and_display(db_session: Session) -> None:
    clerk = make_user(db_session)
    expected = next_number(db_session)
    entry = register(
        db_session,
        incoming(
            sender_reference="1234/2026",
            sender_date=date(2026, 3, 1),
            classification=Classification.RESTRICTED,
            files=(FileRef("k/1", "a" * 64, "αίτηση.pdf", 1024, "application/pdf"),),
        ),
        registered_by=clerk,
        now=NOW,
    )
    assert entry.number == expected
    assert entry.display_number == f"{expected} ΕΙΣ 2026 ΠΧ"
    assert entry.registered_at == MOMENT
    body = describe(get_entry(db_session, entry.id, clerk))
    assert body["registered_at_athens"] == "04/03/2026 11:30:00"
    assert body["files"][0]["sha256"] == "a" * 64
    assert body["registered_by"] == str(clerk.id)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"subject": "Θέμα"}, "direction"),
        ({"direction": "ΕΞ"}, "subject"),
        ({"direction": "ΕΞ", "subject": "   "}, "subject"),
        ({"direction": "ΠΑΝΩ", "subject": "Θέμα"}, "direction"),
        (
            {"direction": "ΕΙΣ", "subject": "Θέμα", "sender": "Α", "sender_reference": "12/2026"},
            "sender_date",
        ),
        ({"direction": "ΕΙΣ", "subject": "Θέμα"}, "sender"),
        ({"direction": "ΕΞ", "subject": "Θέμα", "sender_date": "31/12/2026"}, "sender_date"),
        ({"direction": "ΕΞ", "subject": "Θέμα", "classification": "ΑΠΟΡΡΗΤΟ"}, "classification"),
        ({"direction": "ΕΞ", "subject": "Θέμα", "files": [{"storage_key": "k"}]}, "files[0]"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_takes_no_number(
    db_session: Session, data: dict[str, object], field: str
) -> None:
    before = next_number(db_session)
    with pytest.raises(InvalidEntry) as caught:
        register(db_session, draft_from_mapping(data), now=NOW)
    assert field in caught.value.details["fields"]
    assert next_number(db_session) == before


def test_refusals_after_parsing_take_no_number(db_session: Session) -> None:
    clerk = make_user(db_session)
    first = register(db_session, draft(), now=NOW)
    cancel(db_session, first.id, reason="Διπλοκαταχώριση", cancelled_by=clerk, now=NOW)
    before = next_number(db_session)
    with pytest.raises(UnknownRegistry, match="GEN"):
        register(db_session, draft(registry="ΧΧΧ"), now=NOW)
    with pytest.raises(InvalidEntry, match="Related entries not found"):
        register(db_session, draft(related=(uuid.uuid4(),)), now=NOW)
    with pytest.raises(CorrectionOfCancelled):
        correct(db_session, first.id, draft(), now=NOW)
    with pytest.raises(EntryNotFound):
        correct(db_session, uuid.uuid4(), draft(), now=NOW)
    with pytest.raises(AlreadyCancelled):
        cancel(db_session, first.id, reason="Ξανά", cancelled_by=clerk, now=NOW)
    with pytest.raises(NotCleared):
        register(db_session, draft(classification=Classification.PERSONAL_DATA), registered_by=clerk, now=NOW)
    assert next_number(db_session) == before


def test_an_inactive_registry_takes_no_number(db_session: Session) -> None:
    registry = create_registry(db_session, "ΠΑΛ", "Παλαιό", "Old")
    registry.is_active = False
    db_session.flush()
    with pytest.raises(UnknownRegistry):
        register(db_session, draft(registry="ΠΑΛ"), now=NOW)
    assert (
        db_session.scalar(select(RegistryCounter).where(RegistryCounter.registry_id == registry.id)) is None
    )


def test_cancellation_keeps_the_number_and_says_who_and_why(db_session: Session) -> None:
    clerk = make_user(db_session)
    entry = register(db_session, draft(), now=NOW)
    cancelled = cancel(db_session, entry.id, reason="Λάθος αποδέκτης", cancelled_by=clerk, now=NOW)
    assert (cancelled.number, cancelled.is_cancelled) == (entry.number, True)
    assert cancelled.cancelled_by_id == clerk.id
    assert cancelled.cancel_reason == "Λάθος αποδέκτης"


def test_only_the_protocol_office_cancels_and_a_reason_is_needed(db_session: Session) -> None:
    entry = register(db_session, draft(), now=NOW)
    with pytest.raises(NotProtocolClerk):
        cancel(db_session, entry.id, reason="x", cancelled_by=make_user(db_session, roles=["clerk"]), now=NOW)
    with pytest.raises(InvalidEntry, match="reason"):
        cancel(db_session, entry.id, reason=" ", cancelled_by=make_user(db_session), now=NOW)


def test_a_correction_is_a_new_entry_linked_to_the_old_one(db_session: Session) -> None:
    original = register(db_session, draft(subject="Πρόσκληση σε συνεδρίαση"), now=NOW)
    fixed = correct(
        db_session, original.id, draft(subject="Πρόσκληση σε συνεδρίαση (ορθή επανάληψη)"), now=NOW
    )
    assert fixed.number == original.number + 1
    assert fixed.corrects_id == original.id
    assert original.subject == "Πρόσκληση σε συνεδρίαση"


def test_related_entries_are_recorded(db_session: Session) -> None:
    first = register(db_session, incoming(), now=NOW)
    answer = register(db_session, draft(related=(first.id,)), now=NOW)
    assert related_ids(db_session, answer.id) == [first.id]


def test_guarded_entries_are_hidden_from_users_not_cleared(db_session: Session) -> None:
    cleared = make_user(db_session, clearance=["ΠΔ"])
    entry = register(
        db_session, draft(classification=Classification.PERSONAL_DATA), registered_by=cleared, now=NOW
    )
    assert get_entry(db_session, entry.id, cleared).id == entry.id
    with pytest.raises(EntryNotFound):
        get_entry(db_session, entry.id, make_user(db_session))
    with pytest.raises(EntryNotFound):
        get_entry(db_session, entry.id, make_user(db_session, clearance=["ΕΜΠ"]))


def test_a_correction_stays_in_the_registry_of_the_corrected_entry(db_session: Session) -> None:
    create_registry(db_session, "ΔΤΥ", "Διεύθυνση Τεχνικών Υπηρεσιών", "Technical Services")
    original = register(db_session, draft(registry="ΔΤΥ"), now=NOW)
    fixed = correct(db_session, original.id, draft(), now=NOW)
    assert (fixed.registry_id, fixed.number) == (original.registry_id, original.number + 1)
