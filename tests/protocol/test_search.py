"""Search: Greek accent-insensitive words, parties, filters, paging, clearance."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine.people.models import Department, User
from engine.protocol.entries import register
from engine.protocol.models import Classification, Direction, ProtocolEntry
from engine.protocol.search import InvalidSearch, SearchQuery, decode_cursor, query_from_params, search
from tests.protocol.factories import draft, fixed_clock, incoming, make_department, make_user

START = datetime(2026, 2, 1, 7, 0, tzinfo=UTC)
CASE = uuid.uuid4()


@pytest.fixture
def office(db_session: Session) -> Department:
    """The registering office of the book's entries."""
    return make_department(db_session)


@pytest.fixture
def book(db_session: Session, office: Department) -> dict[str, ProtocolEntry]:
    """A small book, one entry per hour from START, registered by the office."""
    cleared = make_user(db_session, clearance=["ΕΜΠ", "ΠΔ"], department=office)
    drafts = {
        "request": incoming(subject="Αίτηση για βεβαίωση μόνιμης κατοικίας", sender="Γεώργιος Παπαδάκης"),
        "answer": draft(subject="Απάντηση στην αίτηση κατοίκου", recipients=("Γεώργιος Παπαδάκης",)),
        "tender": draft(
            subject="Διακήρυξη διαγωνισμού οδοφωτισμού", copies=("Περιφέρεια Κρήτης",), case_id=CASE
        ),
        "internal": draft(direction=Direction.INTERNAL, subject="Εσωτερική ενημέρωση υπηρεσιών"),
        "secret": draft(subject="Πειθαρχική αίτηση υπαλλήλου", classification=Classification.CONFIDENTIAL),
        "personal": incoming(
            subject="Ιατρικά στοιχεία αίτησης",
            sender="Ελένη Οικονόμου",
            classification=Classification.PERSONAL_DATA,
        ),
    }
    return {
        name: register(
            db_session, item, registered_by=cleared, now=fixed_clock(START + timedelta(hours=hour))
        )
        for hour, (name, item) in enumerate(drafts.items())
    }


def names(book: dict[str, ProtocolEntry], entries: list[ProtocolEntry]) -> list[str]:
    by_id = {entry.id: name for name, entry in book.items()}
    return [by_id[entry.id] for entry in entries]


@pytest.fixture
def reader(db_session: Session, office: Department) -> User:
    """A clerk of the registering office: sees the contents of the office's entries."""
    return make_user(db_session, roles=["clerk"], department=office)


def test_subject_words_match_without_accents_or_case(
    db_session: Session, book: dict[str, ProtocolEntry], reader: User
) -> None:
    for words in ("αιτηση", "ΑΙΤΗΣΗ", "Αίτηση", "αιτήσεις"):
        found = search(db_session, SearchQuery(text=words), reader).entries
        assert names(book, found) == ["answer", "request"], words
    found = search(db_session, SearchQuery(text="βεβαιωση κατοικιας"), reader).entries
    assert names(book, found) == ["request"]


def test_parties_match_sender_recipients_and_copies(
    db_session: Session, book: dict[str, ProtocolEntry], reader: User
) -> None:
    assert names(book, search(db_session, SearchQuery(party="παπαδακης"), reader).entries) == [
        "answer",
        "request",
    ]
    assert names(book, search(db_session, SearchQuery(party="Περιφερεια κρητης"), reader).entries) == [
        "tender"
    ]


def test_filters_combine(db_session: Session, book: dict[str, ProtocolEntry], reader: User) -> None:
    request = book["request"]
    assert names(book, search(db_session, SearchQuery(year=2026, number=request.number), reader).entries) == [
        "request"
    ]
    assert names(book, search(db_session, SearchQuery(direction=Direction.INTERNAL), reader).entries) == [
        "internal"
    ]
    assert names(book, search(db_session, SearchQuery(case_id=CASE), reader).entries) == ["tender"]
    assert names(book, search(db_session, SearchQuery(classification="ΕΜΠ"), reader).entries) == []
    day = SearchQuery(date_from=date(2026, 2, 1), date_to=date(2026, 2, 1), text="αιτηση")
    assert names(book, search(db_session, day, reader).entries) == ["answer", "request"]
    assert search(db_session, SearchQuery(date_from=date(2026, 2, 2)), reader).entries == []


def test_guarded_marks_need_clearance(
    db_session: Session, book: dict[str, ProtocolEntry], reader: User
) -> None:
    everything = SearchQuery(date_from=date(2026, 2, 1), date_to=date(2026, 2, 1))
    assert "secret" not in names(book, search(db_session, everything, reader).entries)
    confidential = make_user(db_session, clearance=["ΕΜΠ"])
    seen = names(book, search(db_session, everything, confidential).entries)
    assert "secret" in seen
    assert "personal" not in seen
    full = make_user(db_session, clearance=["ΕΜΠ", "ΠΔ"])
    assert len(search(db_session, everything, full).entries) == 6


def test_keyset_pages_cover_everything_once(db_session: Session, book: dict[str, ProtocolEntry]) -> None:
    full = make_user(db_session, clearance=["ΕΜΠ", "ΠΔ"])
    seen: list[str] = []
    query = SearchQuery(date_from=date(2026, 2, 1), limit=4)
    while True:
        page = search(db_session, query, full)
        seen += names(book, page.entries)
        if page.next_cursor is None:
            break
        query = SearchQuery(date_from=date(2026, 2, 1), limit=4, cursor=page.next_cursor)
    assert seen == list(reversed(book))


def test_url_parameters_are_checked() -> None:
    query = query_from_params({"q": "αίτηση", "direction": "ΕΙΣ", "year": "2026", "date_from": "2026-02-01"})
    assert (query.text, query.direction, query.year) == ("αίτηση", Direction.INCOMING, 2026)
    with pytest.raises(InvalidSearch, match="year"):
        query_from_params({"year": "δύο"})
    with pytest.raises(InvalidSearch, match="YYYY-MM-DD"):
        query_from_params({"date_to": "1/2/2026"})
    with pytest.raises(InvalidSearch, match="cursor"):
        decode_cursor("%%%")


def test_full_text_pages_whether_the_page_fills_or_not(
    db_session: Session, book: dict[str, ProtocolEntry], reader: User
) -> None:
    first = search(db_session, SearchQuery(text="αιτηση", limit=1), reader)  # the page fills at once
    assert names(book, first.entries) == ["answer"]
    rest = search(db_session, SearchQuery(text="αιτηση", limit=1, cursor=first.next_cursor), reader)
    assert names(book, rest.entries) == ["request"]
    assert rest.next_cursor is None
