"""Forgotten passwords, taken addresses at sign-up, and sessions that end with a new password."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.settings import Settings
from engine.notifications.models import Notification
from engine.people.applicants.models import Applicant
from engine.people.applicants.signup import request_password_reset, reset_password
from engine.requests.my_requests import APPLICANT_ACCOUNT
from engine.workflow.models import Case
from tests.citizens.test_citizen_api import PASSWORD, register, signed_up, unique_email
from tests.requests.test_api import multipart

NEW_PASSWORD = "a brand new passphrase"


def links(session: Session, email: str, template: str) -> list[str]:
    """The tokens of the ``template`` emails queued for ``email``."""
    rows = session.scalars(
        select(Notification)
        .where(Notification.recipient == email, Notification.template_key == template)
        .order_by(Notification.next_attempt_at)
    ).all()
    found = []
    for row in rows:
        link = next(word for word in row.body_text.split() if "/citizen/" in word and "token=" in word)
        found.append(unquote(parse_qs(urlparse(link).query)["token"][0]))
    return found


def login(client: Any, email: str, password: str) -> int:
    answer = client.post("/api/v1/citizen/login", json={"email": email, "password": password})
    return int(answer.status_code)


def test_a_forgotten_password_is_replaced_through_the_emailed_link(
    citizen_client: Any, municipality: Session
) -> None:
    email = signed_up(citizen_client, municipality)
    assert citizen_client.get("/api/v1/citizen/me").status_code == 200

    asked = citizen_client.post("/api/v1/citizen/password/forgot", json={"email": email.upper()})
    nobody = citizen_client.post("/api/v1/citizen/password/forgot", json={"email": unique_email()})
    assert asked.status_code == nobody.status_code == 202
    assert asked.get_json()["message"] == nobody.get_json()["message"]  # nothing told about accounts
    (token,) = links(municipality, email, "password_reset")

    short = citizen_client.post("/api/v1/citizen/password/reset", json={"token": token, "password": "short"})
    assert short.status_code == 422 and "8 characters" in short.get_json()["message"]
    done = citizen_client.post(
        "/api/v1/citizen/password/reset", json={"token": token, "password": NEW_PASSWORD}
    )
    assert done.status_code == 200, done.get_json()  # the short try did not use the link up
    again = citizen_client.post("/api/v1/citizen/password/reset", json={"token": token, "password": PASSWORD})
    assert again.status_code == 409 and "used already" in again.get_json()["message"]
    forged = citizen_client.post(
        "/api/v1/citizen/password/reset", json={"token": "x" * 43, "password": PASSWORD}
    )
    assert forged.status_code == 422

    # The session made with the old password has ended; only the new password signs in.
    assert citizen_client.get("/api/v1/citizen/me").status_code == 401
    assert login(citizen_client, email, PASSWORD) == 403
    assert login(citizen_client, email, NEW_PASSWORD) == 200
    assert citizen_client.get("/api/v1/citizen/me").status_code == 200


def test_signing_up_with_a_taken_address_changes_nothing_and_tells_only_its_owner(
    citizen_client: Any, municipality: Session
) -> None:
    email = signed_up(citizen_client, municipality)
    before = municipality.scalars(select(Applicant).where(Applicant.email == email)).one()
    name, password_hash = before.full_name, before.password_hash
    taken = register(citizen_client, email, name="Κάποιος Άλλος", password="another password")
    fresh = register(citizen_client, unique_email())
    assert taken.status_code == fresh.status_code == 202
    assert taken.get_json()["message"] == fresh.get_json()["message"]
    municipality.expire_all()
    after = municipality.scalars(select(Applicant).where(Applicant.email == email)).one()
    assert (after.full_name, after.password_hash) == (name, password_hash)
    (token,) = links(municipality, email, "account_exists")  # the owner hears of it, with a way back in
    page = citizen_client.get(f"/citizen/reset?token={token}")
    assert page.status_code == 200 and 'name="password_again"' in page.get_data(as_text=True)


def test_an_unconfirmed_address_gets_its_confirmation_again(
    citizen_client: Any, municipality: Session
) -> None:
    email = unique_email()
    assert register(citizen_client, email).status_code == 202
    assert register(citizen_client, email).status_code == 202
    first, second = links(municipality, email, "email_verification")
    assert first != second
    confirmed = citizen_client.post("/api/v1/citizen/verify", json={"token": second})
    assert confirmed.status_code == 200 and confirmed.get_json()["email_verified"] is True


def test_password_links_expire_after_an_hour_and_the_newest_use_ends_the_others(
    db_session: Session, test_settings: Settings
) -> None:
    email = unique_email()
    db_session.add(Applicant(email=email, full_name="Ελένη Π.", password_hash=None))
    db_session.flush()
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    request_password_reset(db_session, test_settings, email, now=start)
    request_password_reset(db_session, test_settings, email, now=start)
    old, new = links(db_session, email, "password_reset")
    with pytest.raises(InvalidInput, match="expired"):
        reset_password(db_session, test_settings, old, NEW_PASSWORD, now=start + timedelta(minutes=61))
    applicant = reset_password(db_session, test_settings, new, NEW_PASSWORD, now=start + timedelta(minutes=5))
    assert applicant.email_verified_at is not None  # the link proved the mailbox is theirs
    with pytest.raises(Exception, match="used already"):
        reset_password(db_session, test_settings, old, PASSWORD, now=start + timedelta(minutes=6))


def test_the_reset_page_sets_the_password(citizen_client: Any, municipality: Session) -> None:
    email = signed_up(citizen_client, municipality)
    citizen_client.post("/api/v1/citizen/password/forgot", json={"email": email})
    (token,) = links(municipality, email, "password_reset")
    citizen_client.get(f"/citizen/reset?token={token}")
    with citizen_client.session_transaction() as browser:
        csrf = browser["_csrf"]
    form = {"_csrf": csrf, "token": token, "password": NEW_PASSWORD, "password_again": "something else"}
    differ = citizen_client.post("/citizen/reset", data=form)
    assert differ.status_code == 422 and "Οι δύο κωδικοί διαφέρουν" in differ.get_data(as_text=True)
    done = citizen_client.post("/citizen/reset", data=form | {"password_again": NEW_PASSWORD})
    assert done.status_code == 200 and "Ο νέος σας κωδικός ορίστηκε" in done.get_data(as_text=True)
    assert login(citizen_client, email, NEW_PASSWORD) == 200


def test_a_signed_in_multipart_submission_needs_the_csrf_header(
    citizen_client: Any, municipality: Session
) -> None:
    """A cross-site form could post multipart with the citizen's cookie: not in their name."""
    email = signed_up(citizen_client, municipality)
    body = {"service": "general_request", "form": {"text": "Λακκούβα στην οδό Τζανακάκη"}}
    data, content_type = multipart({"request": json.dumps(body)}, {})
    refused = citizen_client.post("/api/v1/requests", data=data, content_type=content_type)
    assert refused.status_code == 422 and "X-CSRF-Token" in refused.get_json()["message"]
    csrf = citizen_client.get("/api/v1/citizen/me").get_json()["csrf_token"]
    accepted = citizen_client.post(
        "/api/v1/requests", data=data, content_type=content_type, headers={"X-CSRF-Token": csrf}
    )
    assert accepted.status_code == 201, accepted.get_json()
    mine = citizen_client.get("/api/v1/citizen/cases").get_json()["cases"]
    assert [c["tracking_code"] for c in mine] == [accepted.get_json()["tracking_code"]]
    assert email


def test_a_citizens_case_list_is_served_by_its_index(db_session: Session) -> None:
    """The list filters on the account id inside the applicant JSON: the partial index serves it."""
    db_session.execute(text("SET LOCAL enable_seqscan = off"))
    query = select(Case.id).where(str(uuid.uuid4()) == APPLICANT_ACCOUNT)
    compiled = query.compile(db_session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = "\n".join(db_session.execute(text(f"EXPLAIN {compiled}")).scalars())
    assert "ix_cases_applicant_account" in plan, plan
