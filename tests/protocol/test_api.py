"""The REST endpoints under /api/v1/protocol, through the Flask test client."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine.accounts import session_fingerprint
from engine.org import User
from tests.protocol.factories import make_user
from web.auth import FINGERPRINT_KEY

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
    from engine.tokens import create_token

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
