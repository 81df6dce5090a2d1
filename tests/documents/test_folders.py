"""Folders with unread counts, the document page, ΠΧ restriction and idempotent registration."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.documents.folders import folder, folder_counts, open_document, related_by_numbers
from engine.documents.handling import file_document, route_to_clerk
from engine.documents.registration import register_incoming
from engine.protocol.models import ProtocolEntry
from storage.filesystem import FilesystemStore
from tests.documents.conftest import Town, letter


def test_folders_count_unread_until_opened_and_filed_moves_to_filed(
    db_session: Session, town: Town, object_store: FilesystemStore
) -> None:
    first = register_incoming(
        db_session,
        object_store,
        letter(for_action=(town.a.department.id,), for_information=(town.c.department.id,)),
        registered_by=town.registrar,
    )
    entry = db_session.get(ProtocolEntry, first.entry_id)
    assert entry is not None
    related, missing = related_by_numbers(db_session, f"{entry.number}/{entry.year} 999999/1999")
    assert related == [entry.id] and missing == ["999999/1999"]
    second = register_incoming(
        db_session,
        object_store,
        letter(
            subject="Απάντηση στο προηγούμενο", related=tuple(related), for_action=(town.a.department.id,)
        ),
        registered_by=town.registrar,
    )
    counts = folder_counts(db_session, town.a.clerk)
    assert (counts["action"].total, counts["action"].unread) == (2, 2)
    assert folder_counts(db_session, town.c.head)["information"].unread == 1
    assert folder_counts(db_session, town.registrar)["registered"].total == 2

    page = open_document(db_session, first.id, town.a.head)
    assert not page.restricted and page.files and len(page.assignments) == 2
    assert [r.entry_id for r in page.referred_by] == [second.entry_id]  # σχετικά both ways
    assert folder_counts(db_session, town.a.clerk)["action"].unread == 1  # the unit shares the mark
    assert open_document(db_session, second.id, town.a.head).refers_to[0].entry_id == first.entry_id
    (route,) = page.tasks
    assert route.bpmn_id == "route" and page.clerks == [town.a.clerk]

    handle = route_to_clerk(db_session, route.task_id, town.a.clerk.id, town.a.head)
    file_document(db_session, handle.task_id, "Για το αρχείο.", "99", town.a.clerk)
    assert [item.document_id for item in folder(db_session, town.a.clerk, "filed")] == [first.id]
    assert [item.document_id for item in folder(db_session, town.a.clerk, "action")] == [second.id]

    open_document(db_session, first.id, town.c.clerk)
    open_document(db_session, first.id, town.c.clerk)
    assert folder_counts(db_session, town.c.head)["information"].unread == 0
    reads = [e for e in open_document(db_session, first.id, town.c.head).events if e.action == "read"]
    assert len(reads) == 2  # unit A's head and unit C's clerk: once per unit


def test_a_restricted_entry_shows_only_its_number_to_an_unrelated_unit(
    db_session: Session, town: Town, object_store: FilesystemStore
) -> None:
    document = register_incoming(
        db_session,
        object_store,
        letter(classification="ΠΧ", for_action=(town.a.department.id,)),
        registered_by=town.registrar,
    )
    page = open_document(db_session, document.id, town.x.clerk)
    assert page.restricted and page.files == [] and page.events == []
    # Named people see it although their unit holds nothing.
    named = register_incoming(
        db_session,
        object_store,
        letter(classification="ΠΧ", named_people=(town.x.clerk.id,)),
        registered_by=town.registrar,
    )
    assert not open_document(db_session, named.id, town.x.clerk).restricted


def test_the_same_form_submitted_twice_registers_once(
    db_session: Session, town: Town, object_store: FilesystemStore
) -> None:
    one = register_incoming(
        db_session, object_store, letter(), registered_by=town.registrar, idempotency_key="k-1"
    )
    two = register_incoming(
        db_session, object_store, letter(), registered_by=town.registrar, idempotency_key="k-1"
    )
    assert one.id == two.id
