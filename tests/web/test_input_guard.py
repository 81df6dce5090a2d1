"""The fuzzer's findings (issue 13 item 7): every bad input is a clear 4xx, never a 500,
and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.people.accounts import MAX_PASSWORD_LENGTH, PasswordTooLong, check_password, hash_password
from engine.protocol.models import ProtocolEntry
from engine.workflow.models import Case
from tests.protocol.factories import make_user
from tests.web.staff_fixtures import World, bearer, build_world, sign_in

DEEP_JSON = "[" * 100_000 + "]" * 100_000
PROTOCOL = "/api/v1/protocol/entries"
INCOMING = {"direction": "ΕΙΣ", "subject": "Αίτηση", "sender": "Καφέ Λιμάνι ΟΕ"}


@pytest.fixture
def world(db_session: Session) -> World:
    built = build_world(db_session)
    db_session.commit()
    return built


@pytest.fixture
def staff(client: Any, world: World, db_session: Session) -> dict[str, str]:
    return bearer(db_session, world.org.clerk)


def _counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(Case)) or 0,
        session.scalar(select(func.count()).select_from(ProtocolEntry)) or 0,
    )


# NUL characters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cases?number=2026%00",
        "/api/v1/tasks?request_type=a%00b",
        "/api/v1/protocol/entries?q=a%00",
        "/api/v1/protocol/entries?party=%00",
        "/api/v1/protocol/entries?registry=GEN%00",
        "/api/v1/cases?num%00ber=1",
    ],
)
def test_nul_in_a_query_string_is_400(client: Any, staff: dict[str, str], path: str) -> None:
    answer = client.get(path, headers=staff)
    assert answer.status_code == 400, answer.json
    assert answer.json["error"] == "nul_character"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/citizen/login", {"email": "a\x00@example.gr", "password": "x" * 10}),
        ("/api/v1/citizen/register", {"email": "a@example.gr", "password": "x\x00" * 10}),
        ("/api/v1/citizen/password/forgot", {"email": "\x00"}),
        ("/api/v1/requests", {"service": "family_status", "form": {"a\x00": 1}, "applicant": {}}),
    ],
)
def test_nul_in_an_anonymous_json_body_is_400(
    client: Any, db_session: Session, world: World, path: str, body: dict[str, Any]
) -> None:
    before = _counts(db_session)
    answer = client.post(path, json=body)
    assert answer.status_code == 400, answer.json
    assert answer.json["error"] == "nul_character"
    assert _counts(db_session) == before


def test_nul_in_staff_json_bodies_is_400(client: Any, world: World, staff: dict[str, str]) -> None:
    for path, body in (
        (f"/api/v1/cases/{world.case_id}/comments", {"text": "ok\x00"}),
        (f"/api/v1/tasks/{world.task_id}/assign", {"user_id": "\x00"}),
        (f"/api/v1/tasks/{world.task_id}/forward", {"department": "\x00", "reason": "x"}),
    ):
        answer = client.post(path, json=body, headers=staff)
        assert answer.status_code == 400, (path, answer.json)
        assert answer.json["error"] == "nul_character"


def test_nul_in_form_fields_and_the_multipart_request_part_is_400(
    client: Any, db_session: Session, world: World
) -> None:
    before = _counts(db_session)
    with client.session_transaction() as session:
        session["_csrf"] = "t"
    # Checked when the form is first parsed, whoever parses it (here the CSRF check).
    form_field = client.post("/login", data={"username": "clerk\x00", "password": "x", "_csrf": "t"})
    assert form_field.status_code == 400
    part = client.post(
        "/api/v1/requests",
        data={"request": '{"service": "family_status", "form": {}, "applicant": {"name": "A\\u0000"}}'},
        content_type="multipart/form-data",
    )
    assert part.status_code == 400 and part.json["error"] == "nul_character"
    raw_part = client.post(
        "/api/v1/requests",
        data={"request": "{}", "no\x00te": "x"},
        content_type="multipart/form-data",
    )
    assert raw_part.status_code == 400 and raw_part.json["error"] == "nul_character"
    assert _counts(db_session) == before


# Deeply nested JSON -----------------------------------------------------------------------


def test_deeply_nested_json_is_400(client: Any, db_session: Session, world: World) -> None:
    before = _counts(db_session)
    body = client.post("/api/v1/requests", data=DEEP_JSON, content_type="application/json")
    assert body.status_code == 400 and body.json["error"] == "malformed_input", body.json
    part = client.post("/api/v1/requests", data={"request": DEEP_JSON}, content_type="multipart/form-data")
    assert part.status_code == 400 and part.json["error"] == "malformed_input", part.json
    login = client.post("/api/v1/citizen/login", data=DEEP_JSON, content_type="application/json")
    assert login.status_code == 400
    assert _counts(db_session) == before


# Numbers and dates beyond their columns ---------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tasks?offset=9223372036854775808",
        "/api/v1/cases?offset=9223372036854775808",
        "/api/v1/cases?limit=-1",
        "/api/v1/tasks?due_before=9999-12-31T23:00:00-05:00",
        "/api/v1/protocol/entries?year=40000",
        "/api/v1/protocol/entries?number=1000000000000000000000000000000",
        "/api/v1/protocol/entries?date_to=9999-12-31",
        "/api/v1/protocol/entries?date_from=0001-01-01",
        "/api/v1/protocol/entries?limit=99999999999999999999",
    ],
)
def test_out_of_range_numbers_and_dates_are_4xx(client: Any, staff: dict[str, str], path: str) -> None:
    answer = client.get(path, headers=staff)
    assert answer.status_code in (400, 422), (path, answer.status_code, answer.json)


def test_an_incident_id_beyond_the_column_is_400(client: Any, staff: dict[str, str]) -> None:
    answer = client.post("/api/v1/incidents/2147483648/retry", headers=staff)
    assert answer.status_code == 400, answer.json


# Protocol fields --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "α" * 1_000_000},
        {"sender": "β" * 100_000},
        {"recipients": ["Δήμος"] * 10_000},
        {"recipients": ["γ" * 10_000]},
        {"attachments_description": "δ" * 100_000},
        {"attachments_count": 10**9},
    ],
    ids=["subject", "sender", "recipients-count", "recipient-length", "attachments", "count"],
)
def test_oversized_protocol_fields_are_refused_before_registering(
    client: Any, db_session: Session, overrides: dict[str, Any]
) -> None:
    clerk = make_user(db_session, clearance=["ΠΔ"])
    db_session.commit()
    headers = sign_in(client, clerk)
    before = _counts(db_session)
    answer = client.post(PROTOCOL, json={**INCOMING, **overrides}, headers=headers)
    assert answer.status_code == 422, answer.json
    assert "at most" in answer.json["message"].lower()
    assert _counts(db_session) == before


# Links, headers, URLs ---------------------------------------------------------------------


def test_links_come_from_the_base_url_not_the_host_header(client: Any, db_session: Session) -> None:
    clerk = make_user(db_session, clearance=["ΠΔ"])
    headers = bearer(db_session, clerk)
    db_session.commit()
    answer = client.post(PROTOCOL, json=INCOMING, headers={**headers, "Host": "evil.example"})
    assert answer.status_code == 201, answer.json
    assert answer.json["sender_receipt_url"].startswith("http://polis.test/api/v1/protocol/receipts/")


def test_html_pages_carry_a_strict_content_security_policy(client: Any) -> None:
    for path in ("/login", "/no-such-page"):
        policy = client.get(path).headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, path
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy


def test_405_says_which_methods_are_allowed(client: Any) -> None:
    answer = client.put(PROTOCOL)
    assert answer.status_code == 405 and answer.json["error"] == "method_not_allowed"
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_an_over_long_url_gets_our_json_error(client: Any) -> None:
    answer = client.get("/api/v1/protocol/entries?q=" + "a" * 10_240)
    assert answer.status_code == 414
    assert answer.json["error"] == "request_uri_too_long"


def test_our_error_messages_follow_lang_and_accept_language(client: Any) -> None:
    greek = client.get("/api/v1/no-such-thing?lang=el").json["message"]
    english = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert greek != english.json["message"]
    assert "does not exist" in english.json["message"]
    assert client.get("/api/v1/no-such-thing", headers={"Accept-Language": "el"}).json["message"] == greek
    nul = client.get("/api/v1/requests/x?a=%00", headers={"Accept-Language": "el"}).json["message"]
    assert "NUL" in nul and "χαρακτήρα" in nul


def test_staff_api_parameter_errors_follow_the_language(client: Any, staff: dict[str, str]) -> None:
    greek = client.get("/api/v1/tasks?limit=many&lang=el", headers=staff).json["message"]
    english = client.get("/api/v1/tasks?limit=many", headers={**staff, "Accept-Language": "en"}).json[
        "message"
    ]
    assert "ακέραιος" in greek
    assert "whole number" in english


# Passwords --------------------------------------------------------------------------------


def test_passwords_have_a_maximum_length(client: Any, world: World) -> None:
    with pytest.raises(PasswordTooLong):
        hash_password("x" * (MAX_PASSWORD_LENGTH + 1))
    assert hash_password("x" * MAX_PASSWORD_LENGTH)
    stored = hash_password("correct horse battery")
    assert check_password(stored, "correct horse battery")[0] is True
    assert check_password(stored, "correct horse battery" + "x" * MAX_PASSWORD_LENGTH)[0] is False
    huge = "p" * (2 * 1024 * 1024)
    register = client.post(
        "/api/v1/citizen/register", json={"email": "long@example.gr", "password": huge, "name": "Α Β"}
    )
    assert register.status_code == 422, register.json
    login = client.post("/login", data={"username": "clerk", "password": huge})
    assert login.status_code < 500
