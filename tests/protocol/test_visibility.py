"""Who may see a protocol entry's contents: the registering office, the units it is assigned to,
the department of its case, administrators — and nobody else (engine/protocol/visibility.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine.people.models import Department, User
from engine.protocol import visibility
from engine.protocol.entries import assign, correct, describe_restricted, register
from engine.protocol.errors import EntryRestricted, InvalidEntry
from engine.protocol.models import Classification, ProtocolEntry
from engine.protocol.receipts import receipt_for
from engine.protocol.search import SearchQuery, search
from engine.protocol.visibility import may_see_entry, visible_entry_ids
from engine.workflow.commands import forward_task
from storage.filesystem import FilesystemStore
from tests.conftest import as_owner
from tests.protocol.factories import draft, incoming, make_department, make_user
from tests.web.staff_fixtures import World, build_world


@dataclass
class Units:
    office: Department  # registers
    assigned: Department  # the entry is assigned to it
    elsewhere: Department  # has nothing to do with it
    registrar: User
    office_clerk: User
    assigned_clerk: User
    outsider: User
    admin: User


@pytest.fixture
def units(db_session: Session) -> Units:
    office, assigned, elsewhere = (make_department(db_session) for _ in range(3))
    return Units(
        office,
        assigned,
        elsewhere,
        registrar=make_user(db_session, department=office),
        office_clerk=make_user(db_session, roles=["clerk"], department=office),
        assigned_clerk=make_user(db_session, roles=["clerk"], department=assigned),
        outsider=make_user(db_session, roles=["clerk", "head"], department=elsewhere),
        admin=make_user(db_session, roles=["admin"]),
    )


SOCIAL_HELP = incoming(subject="Αίτηση για επίδομα θέρμανσης", sender="Ελένη Ευαγγέλου")


def test_the_office_the_assigned_units_and_admins_see_the_contents_others_do_not(
    db_session: Session, units: Units
) -> None:
    entry = register(
        db_session,
        incoming(sender="Ελένη Ευαγγέλου", assign_to=(units.assigned.code,)),
        registered_by=units.registrar,
    )
    assert entry.unit_id == units.office.id
    for user in (units.registrar, units.office_clerk, units.assigned_clerk, units.admin):
        assert may_see_entry(db_session, entry, user), user.username
    assert not may_see_entry(db_session, entry, units.outsider)
    # A member of staff in no department sees only what they registered themselves.
    assert not may_see_entry(db_session, entry, make_user(db_session))


def test_a_restricted_entry_shows_its_number_date_and_direction_only(
    db_session: Session, units: Units
) -> None:
    entry = register(db_session, SOCIAL_HELP, registered_by=units.registrar)
    shown = describe_restricted(entry)
    assert shown["restricted"] is True
    assert (shown["number"], shown["year"], shown["direction"]) == (entry.number, entry.year, "ΕΙΣ")
    assert not {"subject", "sender", "recipients", "copies", "files", "case_id", "classification"} & set(
        shown
    )
    assert "Ευαγγέλου" not in str(shown) and "επίδομα" not in str(shown)


@pytest.mark.parametrize("set_limit", [20_000, 1], ids=["as a set", "row by row"])
def test_search_by_number_lists_restricted_entries_but_words_and_parties_find_only_visible_ones(
    db_session: Session, units: Units, set_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(visibility, "SET_LIMIT", set_limit)  # both forms of the rule in searches
    entry = register(db_session, SOCIAL_HELP, registered_by=units.registrar)
    by_number = search(db_session, SearchQuery(year=entry.year, number=entry.number), units.outsider)
    assert [found.id for found in by_number.entries] == [entry.id]
    assert entry.id not in by_number.visible
    # Otherwise the search would tell an outsider whether Ελένη Ευαγγέλου asked for help.
    for query in (
        SearchQuery(party="Ευαγγέλου"),
        SearchQuery(text="επίδομα θέρμανσης"),
        SearchQuery(classification="ΠΧ"),
    ):
        assert search(db_session, query, units.outsider).entries == [], query
    mine = search(db_session, SearchQuery(party="Ευαγγέλου"), units.office_clerk)
    assert [found.id for found in mine.entries] == [entry.id]
    assert mine.visible == {entry.id}


def test_an_assignment_opens_the_entry_to_the_unit_and_only_those_who_see_it_may_assign(
    db_session: Session, units: Units
) -> None:
    entry = register(db_session, SOCIAL_HELP, registered_by=units.registrar)
    with pytest.raises(EntryRestricted):
        assign(db_session, entry.id, [units.elsewhere.code], assigned_by=units.outsider)
    with pytest.raises(InvalidEntry, match="NOPE"):
        assign(db_session, entry.id, ["NOPE"], assigned_by=units.registrar)
    assert assign(db_session, entry.id, [units.elsewhere.code], assigned_by=units.registrar) == [
        units.elsewhere.id
    ]
    assert may_see_entry(db_session, entry, units.outsider)
    assert assign(db_session, entry.id, [units.elsewhere.code], assigned_by=units.registrar) == []


def test_receipts_and_corrections_need_the_contents(
    db_session: Session, units: Units, object_store: FilesystemStore
) -> None:
    entry = register(db_session, SOCIAL_HELP, registered_by=units.registrar)
    with pytest.raises(EntryRestricted):
        receipt_for(db_session, object_store, entry.id, units.outsider, issuer="Δήμος")
    with pytest.raises(EntryRestricted):
        correct(db_session, entry.id, SOCIAL_HELP, registered_by=units.outsider)


def test_entries_of_a_case_follow_the_case_to_its_department(db_session: Session) -> None:
    world: World = build_world(db_session)
    org = world.org
    entry = register(db_session, draft(subject="Έγγραφο υπόθεσης", case_id=world.case_id))  # by the process
    assert entry.unit_id is None
    assert may_see_entry(db_session, entry, org.clerk)
    assert not may_see_entry(db_session, entry, org.outsider)
    forward_task(db_session, world.task_id, org.other.id, org.head)
    assert may_see_entry(db_session, entry, org.outsider)  # the case is theirs now


def test_guarded_marks_still_need_clearance_inside_the_unit(db_session: Session, units: Units) -> None:
    cleared = make_user(db_session, clearance=["ΠΔ"], department=units.office)
    entry = register(db_session, draft(classification=Classification.PERSONAL_DATA), registered_by=cleared)
    assert visible_entry_ids(db_session, [entry.id], cleared) == {entry.id}
    assert visible_entry_ids(db_session, [entry.id], units.office_clerk) == set()
    assert (
        search(db_session, SearchQuery(number=entry.number, year=entry.year), units.office_clerk).entries
        == []
    )


def test_the_registering_office_and_assignments_cannot_be_rewritten(
    db_session: Session, units: Units
) -> None:
    entry = register(db_session, draft(assign_to=(units.assigned.code,)), registered_by=units.registrar)
    db_session.commit()
    for statement in (
        "UPDATE protocol_entries SET unit_id = :other WHERE id = :id",
        "UPDATE protocol_entry_units SET department_id = :other WHERE entry_id = :id",
        "DELETE FROM protocol_entry_units WHERE entry_id = :id",
        "TRUNCATE protocol_entry_units CASCADE",
    ):
        with (
            as_owner(db_session),
            pytest.raises(DBAPIError, match=r"immutable|refused"),
            db_session.begin_nested(),
        ):
            db_session.execute(text(statement), {"other": units.elsewhere.id, "id": entry.id})
    db_session.expire_all()
    assert db_session.get(ProtocolEntry, entry.id).unit_id == units.office.id  # type: ignore[union-attr]
