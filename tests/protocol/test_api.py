"""The REST endpoints under /api/v1/protocol, through the Flask test client."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine.people.accounts import session_fingerprint
from engine.people.models import User
from storage.records import store_file
from tests.protocol.factories import make_department, make_user
from tests.web.staff_fixtures import bearer, build_world
from web.auth.staff import FINGERPRINT_KEY

API = "/api/v1/protocol/entries"
INCOMING = {
    "direction": "ΕΙΣ",
    "subject": "Αίτηση χορήγησης άδειας κατάληψης κοινόχρηστου χώρου",
    "sender": "Καφέ Λιμάνι ΟΕ",
    "sender_reference": "45/2026",
    "sender_date": "2026-03-02",
    "delivery_method": "email",
    "attachments_count": 2,
}


CSRF = "protocol-test-csrf"


def sign_in(client: Any, user: User) -> None:
    """Sign in by session cookie; every later request sends the session's CSRF header."""
    with client.session_transaction() as session:
        session["user_id"] = str(user.id)
        session[FINGERPRINT_KEY] = session_fingerprint(
            user, client.application.extensions["polis"].settings.secret()
        )
        session["_csrf"] = CSRF
    client.environ_base["HTTP_X_CSRF_TOKEN"] = CSRF


@pytest.fixture
def clerk(db_session: Session) -> User:
    user = make_user(db_session, clearance=["ΠΔ"])
    db_session.commit()  # a savepoint of the test's transaction: visible to the app's session
    return user


def test_register_read_search_cancel_correct(client: Any, clerk: User) -> None:
    sign_in(client, clerk)
    created = client.post(API, json=INCOMING)
    assert created.status_code == 201, created.json
    entry = created.json
    assert entry["display"] == f"{entry['number']} ΕΙΣ {entry['year']}"
    assert client.get(f"{API}/{entry['id']}").json["subject"] == INCOMING["subject"]

    found = client.get(API, query_string={"q": "αδεια κοινοχρηστου", "direction": "ΕΙΣ"}).json
    assert [item["id"] for item in found["entries"]] == [entry["id"]]
    assert found["next_cursor"] is None

    corrected = client.post(f"{API}/{entry['id']}/corrections", json={**INCOMING, "subject": "Αίτηση (ορθή)"})
    assert corrected.status_code == 201
    assert corrected.json["corrects"] == entry["id"]
    assert corrected.json["number"] == entry["number"] + 1

    cancelled = client.post(f"{API}/{entry['id']}/cancel", json={"reason": "Υποβλήθηκε εκ παραδρομής"})
    assert cancelled.status_code == 200
    assert cancelled.json["cancelled"] is True
    again = client.post(f"{API}/{entry['id']}/cancel", json={"reason": "ξανά"})
    assert (again.status_code, again.json["error"]) == (409, "protocol_already_cancelled")
    refused = client.post(f"{API}/{entry['id']}/corrections", json=INCOMING)
    assert (refused.status_code, refused.json["error"]) == (409, "protocol_correction_of_cancelled")


def test_receipt_is_a_pdf(client: Any, clerk: User) -> None:
    sign_in(client, clerk)
    entry = client.post(API, json=INCOMING).json
    with client.get(entry["receipt_url"]) as response:
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF-")


def test_the_sender_gets_the_receipt_through_the_signed_link(client: Any, clerk: User) -> None:
    sign_in(client, clerk)
    entry = client.post(API, json=INCOMING).json
    anonymous = client.application.test_client()
    link = entry["sender_receipt_url"].removeprefix("http://localhost")
    with anonymous.get(link) as response:
        assert (response.status_code, response.mimetype) == (200, "application/pdf")
    forged = anonymous.get(link[:-3] + "xyz")
    assert (forged.status_code, forged.json["error"]) == (404, "protocol_receipt_link_invalid")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "Θέμα"}, "direction"),
        ({"direction": "ΕΞ"}, "subject"),
        ({**INCOMING, "sender_date": None}, "sender_date"),
        ({**INCOMING, "related": ["0f8fad5b-d9cb-469f-a165-70867728950e"]}, "related"),
        ({**INCOMING, "registry": "ΚΑΝΕΝΑ"}, None),
    ],
)
def test_bad_input_is_a_422_and_takes_no_number(
    client: Any, clerk: User, body: dict[str, Any], field: str
) -> None:
    sign_in(client, clerk)
    before = client.post(API, json=INCOMING).json["number"]
    response = client.post(API, json=body)
    assert response.status_code == 422, response.json
    assert response.json["message"]
    if field:
        assert field in response.json["details"]["fields"]
    assert client.post(API, json=INCOMING).json["number"] == before + 1


def test_the_api_needs_a_signed_in_user(client: Any) -> None:
    # 401 like the staff API (it was 403), with the scheme to authenticate with.
    response = client.post(API, json=INCOMING)
    assert (response.status_code, response.json["error"]) == (401, "authentication_required")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(API).status_code == 401


def test_cookie_session_writes_need_the_csrf_header(client: Any, clerk: User, db_session: Session) -> None:
    sign_in(client, clerk)
    del client.environ_base["HTTP_X_CSRF_TOKEN"]
    refused = client.post(API, json=INCOMING)
    assert (refused.status_code, refused.json["error"]) == (403, "csrf_token_invalid")
    wrong = client.post(API, json=INCOMING, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    assert client.get(API).status_code == 200  # reads need no token
    assert client.post(API, json=INCOMING, headers={"X-CSRF-Token": CSRF}).status_code == 201


def test_guarded_entries_are_not_found_for_others(client: Any, clerk: User, db_session: Session) -> None:
    sign_in(client, clerk)
    entry = client.post(API, json={**INCOMING, "classification": "ΠΔ"}).json
    other = make_user(db_session)
    db_session.commit()
    sign_in(client, other)
    assert client.get(f"{API}/{entry['id']}").status_code == 404
    assert (
        client.get(API, query_string={"number": entry["number"], "year": entry["year"]}).json["entries"] == []
    )
    assert client.get(f"{API}?year=δύο").status_code == 422


def test_an_api_token_works_on_the_protocol_api(client: Any, clerk: User, db_session: Session) -> None:
    from engine.people.tokens import create_token

    reader = create_token(db_session, clerk, "reader", scopes=["read"])
    writer = create_token(db_session, clerk, "writer")
    db_session.commit()
    created = client.post(API, json=INCOMING, headers={"Authorization": f"Bearer {writer.secret}"})
    assert created.status_code == 201, created.json
    read = client.get(f"{API}/{created.json['id']}", headers={"Authorization": f"Bearer {reader.secret}"})
    assert read.status_code == 200
    refused = client.post(API, json=INCOMING, headers={"Authorization": f"Bearer {reader.secret}"})
    assert (refused.status_code, refused.json["error"]) == (403, "token_scope_missing")
    bad = client.get(API, headers={"Authorization": "Bearer polis_nope"})
    assert (bad.status_code, bad.json["error"]) == (401, "token_invalid")


# --- Visibility by unit (engine/protocol/visibility.py) and the references a registration makes.
# Bearer tokens: the same requests work whatever CSRF rule applies to cookie sessions.


def _registered_by_office(
    client: Any, db_session: Session, body: dict[str, Any]
) -> tuple[dict[str, Any], Any]:
    office, elsewhere = make_department(db_session), make_department(db_session)
    registrar = make_user(db_session, department=office)
    outsider = make_user(db_session, roles=["clerk"], department=elsewhere)
    headers = {"registrar": bearer(db_session, registrar), "outsider": bearer(db_session, outsider)}
    headers["outsider_unit"] = {"code": elsewhere.code}
    db_session.commit()
    created = client.post(API, json=body, headers=headers["registrar"])
    assert created.status_code == 201, created.json
    return created.json, headers


def test_other_units_read_and_find_the_number_only(client: Any, db_session: Session) -> None:
    entry, headers = _registered_by_office(client, db_session, INCOMING)
    outsider = headers["outsider"]
    read = client.get(f"{API}/{entry['id']}", headers=outsider)
    assert read.status_code == 200
    assert read.json["restricted"] is True
    assert (read.json["number"], read.json["direction"]) == (entry["number"], "ΕΙΣ")
    assert INCOMING["sender"] not in read.get_data(as_text=True)
    assert INCOMING["subject"] not in read.get_data(as_text=True)
    listed = client.get(
        API, query_string={"number": entry["number"], "year": entry["year"]}, headers=outsider
    )
    assert [(item["id"], item["restricted"]) for item in listed.json["entries"]] == [(entry["id"], True)]
    assert "subject" not in listed.json["entries"][0]
    by_party = client.get(API, query_string={"party": "Καφέ Λιμάνι"}, headers=outsider)
    assert by_party.json["entries"] == []
    receipt = client.get(f"{API}/{entry['id']}/receipt", headers=outsider)
    assert (receipt.status_code, receipt.json["error"]) == (403, "protocol_entry_restricted")
    own = client.get(f"{API}/{entry['id']}", headers=headers["registrar"]).json
    assert (own["restricted"], own["subject"]) == (False, INCOMING["subject"])


def test_an_assignment_through_the_api_opens_the_entry_to_the_unit(client: Any, db_session: Session) -> None:
    entry, headers = _registered_by_office(client, db_session, INCOMING)
    outsider_unit = headers["outsider_unit"]["code"]
    refused = client.post(
        f"{API}/{entry['id']}/assignments", json={"departments": [outsider_unit]}, headers=headers["outsider"]
    )
    assert (refused.status_code, refused.json["error"]) == (403, "protocol_entry_restricted")
    done = client.post(
        f"{API}/{entry['id']}/assignments",
        json={"departments": [outsider_unit]},
        headers=headers["registrar"],
    )
    assert done.status_code == 200, done.json
    assert len(done.json["assigned_to"]) == 1
    assert (
        client.get(f"{API}/{entry['id']}", headers=headers["outsider"]).json["subject"] == INCOMING["subject"]
    )


def _next_number(client: Any, headers: dict[str, str]) -> int:
    return int(client.post(API, json=INCOMING, headers=headers).json["number"])


def test_file_references_must_be_held_by_the_store_with_that_hash(
    client: Any, db_session: Session, object_store: Any
) -> None:
    payload = b"%PDF-1.7\n% a scanned letter\n"
    stored = store_file(db_session, object_store, io.BytesIO(payload), content_type="application/pdf")
    registrar = make_user(db_session, department=make_department(db_session))
    headers = bearer(db_session, registrar)
    db_session.commit()
    good = {
        "storage_key": stored.key,
        "sha256": stored.sha256,
        "filename": "letter.pdf",
        "size": len(payload),
    }
    before = _next_number(client, headers)
    for bad in (
        {**good, "storage_key": "objects/2026/made-up"},
        {**good, "sha256": hashlib.sha256(b"other bytes").hexdigest()},
        {**good, "size": len(payload) + 1},
    ):
        response = client.post(API, json={**INCOMING, "files": [bad]}, headers=headers)
        assert response.status_code == 422, response.json
        assert "files[0]" in response.json["details"]["fields"]
    assert _next_number(client, headers) == before + 1  # refused input took no number
    accepted = client.post(API, json={**INCOMING, "files": [good]}, headers=headers)
    assert accepted.status_code == 201, accepted.json
    assert accepted.json["files"][0]["sha256"] == stored.sha256


def test_a_case_the_registrar_cannot_see_is_refused(client: Any, db_session: Session) -> None:
    world = build_world(db_session)
    headers = {
        "outsider": bearer(db_session, world.org.outsider),
        "clerk": bearer(db_session, world.org.clerk),
    }
    db_session.commit()
    before = _next_number(client, headers["clerk"])
    for body in ({"case_id": str(world.case_id)}, {"case_number": world.case_number}):
        refused = client.post(API, json={**INCOMING, **body}, headers=headers["outsider"])
        assert (refused.status_code, refused.json["error"]) == (403, "protocol_case_not_visible"), body
    wrong = client.post(
        API,
        json={**INCOMING, "case_id": str(world.case_id), "case_number": "1999/000001"},
        headers=headers["clerk"],
    )
    assert wrong.status_code == 422
    assert _next_number(client, headers["clerk"]) == before + 1
    ok = client.post(API, json={**INCOMING, "case_id": str(world.case_id)}, headers=headers["clerk"])
    assert ok.status_code == 201, ok.json
    assert ok.json["case_number"] == world.case_number
