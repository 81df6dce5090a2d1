"""The staff protocol register through the Flask test client: search (Greek words with or without
accents and capitals, number, year, dates, party, direction, unit, paging), visibility (others
see the number and "restricted"), the entry page with receipt, files and links both ways,
cancel (protocol office only, with a reason, keeps its number), ορθή επανάληψη, the book download.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.documents.models import IncomingDocument
from engine.documents.registration import register_incoming
from engine.people.demo import seed_demo_municipality
from engine.people.models import User
from engine.protocol.book import WITHHELD, book_for_download
from engine.protocol.entries import cancel, register
from engine.protocol.errors import NotProtocolClerk
from engine.protocol.models import Direction, ProtocolEntry
from engine.requests import submit_request
from engine.workflow.definitions import deploy_directory
from storage.filesystem import FilesystemStore
from tests.documents.conftest import SCANNED_LETTER, Town, letter
from tests.protocol.factories import draft
from tests.requests.conftest import applicant, form, upload
from tests.web.staff_fixtures import CSRF, sign_in

FLOODS = "Πρόσκληση σε σύσκεψη για την αντιπλημμυρική προστασία"


def _store(app: Any) -> FilesystemStore:
    store: FilesystemStore = app.extensions["polis"].store
    return store


@pytest.fixture
def letters(app: Any, db_session: Session, town: Town) -> dict[str, ProtocolEntry]:
    """A ΠΧ letter assigned to unit A, an unassigned letter, and an outgoing reply relating to the first."""
    store = _store(app)
    secret = register_incoming(
        db_session,
        store,
        letter(classification="ΠΧ", for_action=(town.a.department.id,)),
        registered_by=town.registrar,
    ).entry
    plain = register_incoming(
        db_session,
        store,
        letter(subject="Αίτηση για άδεια κατάληψης πεζοδρομίου", sender="Ελένη Ευαγγέλου"),
        registered_by=town.registrar,
    ).entry
    reply = register(
        db_session,
        draft(subject="Απάντηση για τη σύσκεψη", recipients=("Περιφέρεια Κρήτης",), related=(secret.id,)),
        registered_by=town.registrar,
    )
    db_session.flush()
    return {"secret": secret, "plain": plain, "reply": reply}


def _rows(html: str) -> str:
    return html.split('id="register"', 1)[1] if 'id="register"' in html else ""


def test_words_with_or_without_accents_and_capitals_find_the_entry(
    client: Any, town: Town, letters: dict[str, ProtocolEntry]
) -> None:
    sign_in(client, town.registrar)
    for words in ("σύσκεψη", "ΣΥΣΚΕΨΗ", "συσκεψη", "Αντιπλημμυρικής"):
        page = client.get("/work/protocol", query_string={"q": words})
        assert page.status_code == 200
        assert FLOODS in _rows(page.get_data(as_text=True)), words
        assert "πεζοδρομίου" not in _rows(page.get_data(as_text=True)), words
    by_party = _rows(client.get("/work/protocol?party=ευαγγελου").get_data(as_text=True))
    assert "πεζοδρομίου" in by_party and FLOODS not in by_party
    outgoing = _rows(client.get("/work/protocol?direction=ΕΞ").get_data(as_text=True))
    assert "Απάντηση για τη σύσκεψη" in outgoing and FLOODS not in outgoing
    number = letters["plain"]
    found = _rows(
        client.get(f"/work/protocol?number={number.number}&year={number.year}").get_data(as_text=True)
    )
    assert "πεζοδρομίου" in found and FLOODS not in found
    today = letters["plain"].registered_at.date()
    dated = client.get(f"/work/protocol?date_from={today}&date_to={today}").get_data(as_text=True)
    assert "πεζοδρομίου" in _rows(dated)
    early = client.get("/work/protocol?date_to=2001-01-01").get_data(as_text=True)
    assert 'id="empty"' in early
    unit = _rows(client.get(f"/work/protocol?unit={town.a.department.id}").get_data(as_text=True))
    assert FLOODS in unit and "πεζοδρομίου" not in unit


def test_bad_search_input_is_said_at_the_field(client: Any, town: Town) -> None:
    sign_in(client, town.registrar)
    page = client.get("/work/protocol?number=abc&date_from=32/13/2026")
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'href="#f-number"' in html and 'href="#f-date_from"' in html
    assert 'value="abc"' in html  # what was typed stays


def test_other_units_see_the_number_and_restricted_never_the_subject(
    client: Any, town: Town, letters: dict[str, ProtocolEntry]
) -> None:
    secret = letters["secret"]
    sign_in(client, town.x.clerk)
    listing = _rows(client.get("/work/protocol").get_data(as_text=True))
    assert f"{secret.number} ΕΙΣ {secret.year}" in listing
    assert FLOODS not in listing and "Περιφέρεια" not in listing and "Ευαγγέλου" not in listing
    assert "Περιορισμένης πρόσβασης" in listing
    # Words and parties find only what the reader may see: nothing here.
    assert "Περιορισμένης" not in _rows(client.get("/work/protocol?q=σύσκεψη").get_data(as_text=True))
    entry = client.get(f"/work/protocol/{secret.id}").get_data(as_text=True)
    assert 'id="restricted"' in entry and FLOODS not in entry and "scan.pdf" not in entry
    assert client.get(f"/work/protocol/{secret.id}/files/0").status_code == 404
    assert client.get(f"/work/protocol/{secret.id}/receipt").status_code == 403
    # The unit it is assigned to reads it in full.
    sign_in(client, town.a.clerk)
    assert FLOODS in client.get(f"/work/protocol/{secret.id}").get_data(as_text=True)
    assert FLOODS in _rows(client.get("/work/protocol").get_data(as_text=True))


def test_the_entry_page_has_receipt_files_and_links_both_ways(
    client: Any, town: Town, letters: dict[str, ProtocolEntry]
) -> None:
    secret, reply = letters["secret"], letters["reply"]
    sign_in(client, town.registrar)
    html = client.get(f"/work/protocol/{secret.id}").get_data(as_text=True)
    assert FLOODS in html and "scan.pdf" in html and secret.files[0].sha256 in html
    assert f"/work/protocol/{reply.id}" in html  # referred to by the reply
    assert f"/work/protocol/{secret.id}" in client.get(f"/work/protocol/{reply.id}").get_data(as_text=True)
    served = client.get(f"/work/protocol/{secret.id}/files/0")
    assert served.status_code == 200 and served.get_data() == SCANNED_LETTER
    receipt = client.get(f"/work/protocol/{secret.id}/receipt")
    assert receipt.status_code == 200 and receipt.get_data().startswith(b"%PDF")


def test_cancel_needs_the_protocol_office_and_a_reason_and_keeps_the_number(
    client: Any, db_session: Session, town: Town, letters: dict[str, ProtocolEntry]
) -> None:
    plain = letters["plain"]
    sign_in(client, town.a.head)
    refused = client.post(f"/work/protocol/{plain.id}/cancel", data={"_csrf": CSRF, "reason": "Λάθος"})
    assert refused.status_code == 409
    assert "Μόνο το γραφείο πρωτοκόλλου" in refused.get_data(as_text=True)
    with pytest.raises(NotProtocolClerk):
        cancel(db_session, plain.id, reason="Λάθος", cancelled_by=town.a.head)
    sign_in(client, town.registrar)
    empty = client.post(f"/work/protocol/{plain.id}/cancel", data={"_csrf": CSRF, "reason": "  "})
    assert empty.status_code == 422 and 'href="#f-reason"' in empty.get_data(as_text=True)
    assert db_session.get(ProtocolEntry, plain.id).cancelled_at is None
    done = client.post(
        f"/work/protocol/{plain.id}/cancel", data={"_csrf": CSRF, "reason": "Καταχωρίστηκε δύο φορές"}
    )
    assert done.status_code == 302
    db_session.expire_all()
    cancelled = db_session.get(ProtocolEntry, plain.id)
    assert cancelled.cancel_reason == "Καταχωρίστηκε δύο φορές" and cancelled.number == plain.number
    html = client.get(f"/work/protocol/{plain.id}").get_data(as_text=True)
    assert 'id="cancelled"' in html and "Καταχωρίστηκε δύο φορές" in html and "<s>" in html


def test_a_correction_is_a_new_number_linked_both_ways_and_the_old_one_is_struck_through(
    client: Any, db_session: Session, town: Town, letters: dict[str, ProtocolEntry]
) -> None:
    plain = letters["plain"]
    sign_in(client, town.registrar)
    form = client.get(f"/work/protocol/{plain.id}/correct").get_data(as_text=True)
    assert "πεζοδρομίου" in form  # starts as the original
    bad = client.post(
        f"/work/protocol/{plain.id}/correct",
        data={"_csrf": CSRF, "subject": "Αίτηση", "sender": "", "keep_files": "true"},
    )
    assert bad.status_code == 422 and 'href="#f-sender"' in bad.get_data(as_text=True)
    before = db_session.scalar(select(ProtocolEntry.number).order_by(ProtocolEntry.number.desc()).limit(1))
    done = client.post(
        f"/work/protocol/{plain.id}/correct",
        data={
            "_csrf": CSRF,
            "subject": "Αίτηση για άδεια κατάληψης κοινόχρηστου χώρου",
            "sender": "Ελένη Ευαγγέλου",
            "sender_reference": "1234/2026",
            "sender_date": "2026-12-01",
            "keep_files": "true",
            "files": (io.BytesIO(SCANNED_LETTER), "diorthosi.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    new = db_session.scalars(select(ProtocolEntry).where(ProtocolEntry.corrects_id == plain.id)).one()
    assert new.number == before + 1 and new.direction == Direction.INCOMING
    assert [f.filename for f in new.files] == ["scan.pdf", "diorthosi.pdf"]
    new_page = client.get(f"/work/protocol/{new.id}").get_data(as_text=True)
    assert 'id="corrects"' in new_page and f"/work/protocol/{plain.id}" in new_page
    old_page = client.get(f"/work/protocol/{plain.id}").get_data(as_text=True)
    assert 'id="superseded"' in old_page and f"/work/protocol/{new.id}" in old_page
    assert "<s>" in old_page.split('id="entry-number"', 1)[1][:40]
    listing = _rows(client.get("/work/protocol").get_data(as_text=True))
    assert f"{new.number} ΕΙΣ {new.year}" in listing and "<s>" in listing
    # The document page of the original says so too, with the link.
    document_id = db_session.scalar(select(IncomingDocument.id).where(IncomingDocument.entry_id == plain.id))
    document_page = client.get(f"/work/documents/{document_id}").get_data(as_text=True)
    assert 'id="superseded"' in document_page and f"/work/protocol/{new.id}" in document_page


def test_the_book_downloads_for_the_protocol_office_only(
    client: Any, db_session: Session, town: Town, letters: dict[str, ProtocolEntry]
) -> None:
    year = letters["plain"].year
    sign_in(client, town.a.clerk)
    assert client.get(f"/work/protocol/book?year={year}").status_code == 403
    with pytest.raises(NotProtocolClerk):
        book_for_download(db_session, town.a.clerk, year)
    sign_in(client, town.registrar)
    response = client.get(f"/work/protocol/book?year={year}")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    mine = {int(row["number"]): row for row in rows}
    assert mine[letters["plain"].number]["subject"] == letters["plain"].subject
    as_json = json.loads(client.get(f"/work/protocol/book?year={year}&format=json").get_data(as_text=True))
    assert {row["number"] for row in as_json} == set(mine)
    assert client.get("/work/protocol/book?year=abc").status_code == 422


def test_the_book_withholds_what_the_downloader_is_not_cleared_for_but_keeps_the_number(
    db_session: Session, town: Town
) -> None:
    guarded = register(db_session, draft(subject="Πειθαρχική υπόθεση υπαλλήλου", classification="ΕΜΠ"))
    rows = {row["number"]: row for row in book_for_download(db_session, town.registrar, guarded.year)}
    assert rows[guarded.number]["subject"] == WITHHELD and rows[guarded.number]["classification"] == "ΕΜΠ"


def test_pages_follow_each_other_without_repeating_or_skipping(
    client: Any, db_session: Session, town: Town
) -> None:
    numbers = {
        register(db_session, draft(subject=f"Διαβιβαστικό {n}"), registered_by=town.registrar).number
        for n in range(30)
    }
    sign_in(client, town.registrar)
    seen: list[int] = []
    url = "/work/protocol?direction=ΕΞ"
    for _ in range(5):
        html = client.get(url).get_data(as_text=True)
        seen += [int(n) for n in re.findall(r">(\d+) ΕΞ \d{4}</a>", _rows(html))]
        found = re.search(r'rel="next" href="([^"]+)"', html)
        if found is None:
            break
        url = found.group(1).replace("&amp;", "&")
        assert "page=" in url and "direction=" in url  # the search is kept from page to page
    assert len(seen) == len(set(seen)) == 30 and set(seen) == numbers
    assert seen == sorted(seen, reverse=True)  # newest first


def test_a_clerk_does_not_see_another_departments_citizens_requests(client: Any, db_session: Session) -> None:
    seed_demo_municipality(db_session)
    deploy_directory(db_session)
    submission = submit_request(
        db_session,
        _store(client.application),
        service_code="family_status",
        form=form("family_status"),
        attachments=[upload("id_copy", "tautotita.pdf")],
        applicant=applicant("email", name="Ελένη Παπαδοπούλου"),
    )
    entry_id = submission.protocol_entry_id
    revenue = db_session.scalar(select(User).where(User.username == "esoda"))
    sign_in(client, revenue)
    listing = _rows(client.get("/work/protocol").get_data(as_text=True))
    assert submission.protocol_number in listing and "Παπαδοπούλου" not in listing
    assert "Περιορισμένης πρόσβασης" in listing
    page = client.get(f"/work/protocol/{entry_id}").get_data(as_text=True)
    assert 'id="restricted"' in page and "Παπαδοπούλου" not in page
    registry = db_session.scalar(select(User).where(User.username == "ypallilos"))
    sign_in(client, registry)  # the case's department reads it, and takes the case file from there
    page = client.get(f"/work/protocol/{entry_id}").get_data(as_text=True)
    assert "Παπαδοπούλου" in page and f"/work/cases/{submission.case_id}/case-file.zip" in page
