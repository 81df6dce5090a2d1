"""The citizen account API through the Flask test client against the test database."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.notifications.models import Notification
from tests.citizens.conftest import client_from
from tests.requests.anonymous import confirmation_token, solved_challenge
from web.api import citizen as api_citizen

PASSWORD = "correct horse battery"


def unique_email() -> str:
    return f"eleni.{uuid.uuid4().hex[:10]}@example.gr"


def register(client: Any, email: str, **extra: Any) -> Any:
    body = {"name": "Ελένη Παπαδοπούλου", "email": email, "password": PASSWORD} | extra
    return client.post("/api/v1/citizen/register", json=body)


def token_from_outbox(session: Session, email: str) -> str:
    notification = session.scalars(
        select(Notification).where(
            Notification.recipient == email, Notification.template_key == "email_verification"
        )
    ).one()
    assert notification.channel == "email" and notification.status == "queued"
    link = next(word for word in notification.body_text.split() if "/citizen/verify?" in word)
    return unquote(parse_qs(urlparse(link).query)["token"][0])


def signed_up(client: Any, session: Session, email: str | None = None, **extra: Any) -> str:
    email = email or unique_email()
    assert register(client, email, **extra).status_code == 202
    assert (
        client.post("/api/v1/citizen/verify", json={"token": token_from_outbox(session, email)}).status_code
        == 200
    )
    answer = client.post("/api/v1/citizen/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.get_json()
    return email


def submit_general(client: Any, text: str, applicant: dict[str, Any] | None = None) -> dict[str, Any]:
    """Submit a general request: at once when signed in; else solve the challenge and follow the
    emailed confirmation link."""
    body = {"service": "general_request", "form": {"text": text}, "applicant": applicant or {}}
    answer = client.post("/api/v1/requests", json={**body, "altcha": solved_challenge(client)})
    if answer.status_code == 202:
        session = client.application.extensions["polis"].session_factory()
        try:
            token = confirmation_token(session, str(body["applicant"]["email"]))
        finally:
            session.close()
        answer = client.post("/api/v1/requests/confirm", json={"token": token})
    assert answer.status_code == 201, answer.get_json()
    return dict(answer.get_json())


def test_register_verify_login_me_and_own_cases(citizen_client: Any, municipality: Session, app: Any) -> None:
    client = citizen_client
    email = unique_email()
    answer = register(client, email.upper(), phone="691 234 5678", channel="both", locale="en")
    assert answer.status_code == 202
    assert answer.get_json()["email"] == email and "confirm" in answer.get_json()["message"]
    token = token_from_outbox(municipality, email)

    # Not confirmed yet: refused, with a message that says what to do.
    refused = client.post("/api/v1/citizen/login", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 403 and "Confirm your email" in refused.get_json()["message"]

    verified = client.post("/api/v1/citizen/verify", json={"token": token})
    assert verified.status_code == 200 and verified.get_json()["email_verified"] is True
    again = client.post("/api/v1/citizen/verify", json={"token": token})
    assert again.status_code == 409

    assert client.get("/api/v1/citizen/me").status_code == 401
    login = client.post("/api/v1/citizen/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    me = client.get("/api/v1/citizen/me").get_json()
    assert (me["email"], me["phone"], me["channel"], me["locale"]) == (email, "6912345678", "both", "en")

    mine = submit_general(client, "Σπασμένο φανάρι στην οδό Κύπρου")
    other_client = client_from(app, "10.200.0.1")
    theirs = submit_general(
        other_client, "Κλαδέματα δέντρων", {"name": "Νίκος Νικολάου", "email": "nikos@example.gr"}
    )

    listed = client.get("/api/v1/citizen/cases").get_json()["cases"]
    assert [c["tracking_code"] for c in listed] == [mine["tracking_code"]]
    assert listed[0]["case_number"] == mine["case_number"]
    assert listed[0]["protocol_number"] == mine["protocol_number"]
    assert listed[0]["status"] == "in_progress" and listed[0]["service"]["code"] == "general_request"

    detail = client.get(f"/api/v1/citizen/cases/{mine['tracking_code']}")
    assert detail.status_code == 200 and detail.get_json()["case_number"] == mine["case_number"]
    assert detail.headers["Cache-Control"] == "private, no-store"
    assert client.get(f"/api/v1/citizen/cases/{theirs['tracking_code']}").status_code == 404
    assert client.get("/api/v1/citizen/cases/' OR 1=1 --").status_code == 404

    assert client.post("/api/v1/citizen/logout", json={}).status_code == 204
    assert client.get("/api/v1/citizen/cases").status_code == 401


def test_wrong_password_and_unknown_email_get_the_same_answer(
    citizen_client: Any, municipality: Session
) -> None:
    email = signed_up(citizen_client, municipality)
    citizen_client.post("/api/v1/citizen/logout", json={})
    wrong = citizen_client.post(
        "/api/v1/citizen/login", json={"email": email, "password": "not the password"}
    )
    unknown = citizen_client.post(
        "/api/v1/citizen/login", json={"email": unique_email(), "password": "not the password"}
    )
    assert wrong.status_code == unknown.status_code == 403
    assert wrong.get_json() == unknown.get_json()
    assert citizen_client.get("/api/v1/citizen/me").status_code == 401


def test_sign_in_is_rate_limited_per_email(citizen_client: Any, municipality: Session) -> None:
    email = signed_up(citizen_client, municipality)
    limit = api_citizen.LOGIN_FAILURES_PER_EMAIL.limit
    for _ in range(limit):
        answer = citizen_client.post(
            "/api/v1/citizen/login", json={"email": email, "password": "guess guess"}
        )
        assert answer.status_code == 403
    # Now even the right password waits: the guesser cannot tell when they hit it.
    blocked = citizen_client.post("/api/v1/citizen/login", json={"email": email, "password": PASSWORD})
    assert blocked.status_code == 429 and blocked.get_json()["error"] == "too_many_requests"


def test_sign_in_is_rate_limited_per_address(app: Any, municipality: Session) -> None:
    client = client_from(app, "10.201.0.1")
    codes = [
        client.post("/api/v1/citizen/login", json={"email": unique_email(), "password": "x" * 8}).status_code
        for _ in range(api_citizen.LOGIN_PER_IP.limit + 1)
    ]
    assert set(codes[:-1]) == {403} and codes[-1] == 429


def test_bad_sign_ups(citizen_client: Any, municipality: Session) -> None:
    email = unique_email()
    first = register(citizen_client, email)
    again = register(citizen_client, email)  # the same answer: signing up tells nobody who has an account
    assert first.status_code == again.status_code == 202 and first.get_json() == again.get_json()
    short = register(citizen_client, unique_email(), password="short")
    assert short.status_code == 422 and "8 characters" in short.get_json()["message"]
    assert register(citizen_client, "not-an-email").status_code == 422
    assert register(citizen_client, unique_email(), channel="sms").status_code == 422  # no phone
    bad_token = citizen_client.post("/api/v1/citizen/verify", json={"token": "nope"})
    assert bad_token.status_code == 422


def test_form_posts_are_refused(citizen_client: Any, municipality: Session) -> None:
    """A cross-site HTML form cannot sign someone in or out: JSON or the CSRF header only."""
    email = unique_email()
    answer = citizen_client.post("/api/v1/citizen/login", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 422 and "JSON body" in answer.get_json()["message"]


def test_the_emailed_link_opens_a_confirmation_page(citizen_client: Any, municipality: Session) -> None:
    email = unique_email()
    assert register(citizen_client, email).status_code == 202
    token = token_from_outbox(municipality, email)
    page = citizen_client.get(f"/citizen/verify?token={token}")
    assert page.status_code == 200 and 'name="token"' in page.get_data(as_text=True)
    # Opening the link changed nothing; the button confirms (with the page's CSRF token).
    with citizen_client.session_transaction() as browser:
        csrf = browser["_csrf"]
    refused = citizen_client.post("/citizen/verify", data={"token": token})
    assert refused.status_code == 400
    done = citizen_client.post("/citizen/verify", data={"token": token, "_csrf": csrf})
    assert done.status_code == 200 and email in done.get_data(as_text=True)
    login = citizen_client.post("/api/v1/citizen/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
