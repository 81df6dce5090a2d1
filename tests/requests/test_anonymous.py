"""Anonymous submissions: held until the email is confirmed, only where the service allows it,
behind a single-use proof-of-work challenge and rate limits shared by every worker; their files
stored only after the checks pass and discarded when the transaction rolls back."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.settings import Settings
from engine.notifications.models import Notification
from engine.protocol.models import ProtocolEntry
from engine.requests import SubmissionInvalid
from engine.requests.models import PendingSubmission
from engine.requests.pending import (
    ConfirmationInvalid,
    SignInRequired,
    confirm_submission,
    hold_submission,
    purge_expired_holds,
)
from engine.requests.submission import submit_request
from engine.workflow.models import Case
from storage.filesystem import FilesystemStore
from storage.models import StoredObjectRecord
from tests.citizens.conftest import client_from
from tests.requests.anonymous import confirmation_token, solve, solved_challenge
from tests.requests.conftest import applicant, form, required_uploads, upload

SERVICE = "family_status"  # "anonymous": true in its catalogue entry


def _counts(session: Session) -> dict[str, int]:
    def count(model: Any) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    return {
        "cases": count(Case),
        "entries": count(ProtocolEntry),
        "objects": count(StoredObjectRecord),
        "notices": count(Notification),
    }


def _hold(session: Session, store: FilesystemStore, settings: Settings, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "service_code": SERVICE,
        "form": form(SERVICE),
        "attachments": required_uploads(SERVICE),
        "applicant": applicant("both"),
    }
    values.update(overrides)
    return hold_submission(session, store, settings, **values)


def _templates(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(select(Notification.template_key, Notification.recipient))
    return sorted((row.template_key, row.recipient) for row in rows)


def test_a_held_submission_registers_nothing_and_mails_only_the_link(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings
) -> None:
    before = _counts(municipality)
    held = _hold(municipality, object_store, test_settings)
    after = _counts(municipality)
    assert (after["cases"], after["entries"]) == (before["cases"], before["entries"])
    assert after["objects"] == before["objects"] + 1  # the file waits with the hold
    # One email with the link; no SMS to the phone given, no acknowledgement.
    assert _templates(municipality) == [("submission_confirmation", "eleni@example.gr")]
    assert held.email == "eleni@example.gr"

    token = confirmation_token(municipality, "eleni@example.gr")
    result = confirm_submission(municipality, object_store, test_settings, token)
    confirmed = _counts(municipality)
    assert (confirmed["cases"], confirmed["entries"]) == (before["cases"] + 1, before["entries"] + 1)
    assert " ΕΙΣ " in result.protocol_number
    assert ("request_received", "6912345678") in _templates(municipality)  # now the notices go out
    again = confirm_submission(municipality, object_store, test_settings, token)
    assert (again.replayed, again.case_number) == (True, result.case_number)
    assert _counts(municipality)["entries"] == confirmed["entries"]


def test_an_expired_or_unknown_link_registers_nothing(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings
) -> None:
    _hold(municipality, object_store, test_settings)
    token = confirmation_token(municipality, "eleni@example.gr")
    before = _counts(municipality)
    with pytest.raises(ConfirmationInvalid, match="expired"):
        confirm_submission(municipality, object_store, test_settings, token, now=utcnow() + timedelta(days=2))
    with pytest.raises(ConfirmationInvalid):
        confirm_submission(municipality, object_store, test_settings, token[:-2] + "xx")
    assert _counts(municipality) == before


def test_only_services_that_allow_it_and_only_with_an_email(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings
) -> None:
    before = _counts(municipality)
    with pytest.raises(SignInRequired):
        _hold(municipality, object_store, test_settings, service_code="no_debts", form=form("no_debts"))
    with pytest.raises(SubmissionInvalid) as refused:
        _hold(municipality, object_store, test_settings, applicant=applicant("sms", email=None))
    assert refused.value.errors[0].field == "applicant.email"
    assert _counts(municipality) == before
    assert not list(Path(object_store.root).rglob("*.meta"))  # nothing was stored


def _stored_files(store: FilesystemStore) -> list[Path]:
    return [path for path in Path(store.root).rglob("*") if path.is_file() and "incoming" not in path.parts]


@pytest.mark.parametrize("how", ["hold", "submit"])
def test_files_of_a_rolled_back_submission_are_discarded(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings, how: str
) -> None:
    municipality.commit()  # the municipality stays; what follows is the request's transaction
    existing = set(_stored_files(object_store))
    if how == "hold":
        _hold(municipality, object_store, test_settings)
    else:
        submit_request(
            municipality,
            object_store,
            service_code=SERVICE,
            form=form(SERVICE),
            attachments=[upload("id_copy")],
            applicant=applicant(),
            settings=test_settings,
        )
    key = municipality.scalars(select(StoredObjectRecord.key)).all()[-1]
    assert object_store.exists(key)
    municipality.rollback()  # e.g. the commit failed, or a later step raised
    assert not object_store.exists(key)
    assert set(_stored_files(object_store)) == existing


def test_committed_files_stay(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings
) -> None:
    _hold(municipality, object_store, test_settings)
    municipality.commit()
    key = municipality.scalars(select(StoredObjectRecord.key)).all()[-1]
    municipality.rollback()  # a later, empty transaction ends
    assert object_store.exists(key)


# --- Over HTTP ---------------------------------------------------------------------------


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service": "general_request",
        "form": {"text": "Λακκούβα στην οδό Κύπρου"},
        "applicant": {"name": "Ελένη Παπαδοπούλου", "email": "eleni@example.gr", "channel": "email"},
    }
    body.update(overrides)
    return body


def test_the_api_holds_then_registers_on_confirmation(client: Any, municipality: Session) -> None:
    before = _counts(municipality)
    held = client.post("/api/v1/requests", json=_body(altcha=solved_challenge(client)))
    assert held.status_code == 202, held.get_json()
    assert held.get_json()["status"] == "pending_confirmation"
    assert _counts(municipality)["entries"] == before["entries"]
    token = confirmation_token(municipality, "eleni@example.gr")
    confirmed = client.post("/api/v1/requests/confirm", json={"token": token})
    assert confirmed.status_code == 201, confirmed.get_json()
    assert confirmed.get_json()["status_url"].startswith("http")
    assert _counts(municipality)["entries"] == before["entries"] + 1
    repeated = client.post("/api/v1/requests/confirm", json={"token": token})
    assert repeated.status_code == 200 and repeated.headers["Idempotent-Replayed"] == "true"
    bad = client.post("/api/v1/requests/confirm", json={"token": "not-a-token"})
    assert (bad.status_code, bad.get_json()["error"]) == (404, "confirmation_invalid")


def test_the_proof_of_work_is_required_checked_and_used_once(client: Any, municipality: Session) -> None:
    before = _counts(municipality)
    missing = client.post("/api/v1/requests", json=_body())
    assert (missing.status_code, missing.get_json()["error"]) == (403, "challenge_failed")
    challenge = client.get("/api/v1/requests/challenge").get_json()
    assert challenge["parameters"]["algorithm"] == "PBKDF2/SHA-256"
    payload = solve(challenge)
    forged = json.loads(base64.b64decode(payload))
    forged["challenge"]["parameters"]["cost"] = 0  # cheaper work: the signature no longer matches
    tampered = base64.b64encode(json.dumps(forged).encode()).decode()
    for bad in (tampered, "bm90IGpzb24=", "x" * 10_000):
        refused = client.post("/api/v1/requests", json=_body(altcha=bad))
        assert (refused.status_code, refused.get_json()["error"]) == (403, "challenge_failed"), bad[:20]
    assert _counts(municipality) == before
    assert client.post("/api/v1/requests", json=_body(altcha=payload)).status_code == 202
    reused = client.post("/api/v1/requests", json=_body(altcha=payload))
    assert (reused.status_code, reused.get_json()["error"]) == (403, "challenge_failed")
    assert "used already" in reused.get_json()["message"]


def test_a_service_that_needs_sign_in_refuses_anonymous_submissions(
    client: Any, municipality: Session
) -> None:
    before = _counts(municipality)
    body = _body(service="no_debts", form=form("no_debts"), altcha=solved_challenge(client))
    refused = client.post("/api/v1/requests", json=body)
    assert (refused.status_code, refused.get_json()["error"]) == (403, "service_needs_sign_in")
    assert _counts(municipality) == before


@pytest.fixture
def two_servers(fresh_db_url: str, tmp_path: Path) -> list[Any]:
    """Two app instances (as two gunicorn workers or servers) on one database, low limits."""
    from web.app import create_app

    apps = []
    for name in ("a", "b"):
        settings = Settings(
            env="test",
            var_dir=tmp_path / name,
            database_url=fresh_db_url,
            storage_url=(tmp_path / "objects").as_uri(),
            secret_key="test-secret-key-test-secret-key",
            base_url="http://polis.test",
            submission_challenge_cost=1,
            submissions_per_address_hour=3,
            submissions_per_contact_day=2,
        )
        app = create_app(settings)
        app.config["TESTING"] = True
        apps.append(app)
    yield apps
    for app in apps:
        app.extensions["polis"].engine.dispose()


def test_limits_are_shared_by_every_worker(two_servers: list[Any]) -> None:
    a, b = (client_from(app, "203.0.113.7") for app in two_servers)
    # An unknown service: each attempt is counted, then refused with 404 (nothing to hold).
    anonymous = {"service": "nope", "applicant": {}}  # no contact: only the address counts
    statuses = [
        client.post("/api/v1/requests", json={**anonymous, "altcha": solved_challenge(client)}).status_code
        for client in (a, b, a, b)
    ]
    assert statuses == [404, 404, 404, 429]
    # Per destination: three addresses, one email, across both servers.
    others = [client_from(two_servers[i % 2], f"198.51.100.{i}") for i in range(3)]
    body = {"service": "nope", "applicant": {"name": "Θύμα Spam", "email": "victim@example.gr"}}
    statuses = [
        c.post("/api/v1/requests", json={**body, "altcha": solved_challenge(c)}).status_code for c in others
    ]
    assert statuses == [404, 404, 429]


def test_a_solution_is_used_once_across_servers(two_servers: list[Any]) -> None:
    a, b = (client_from(app, f"192.0.2.{i}") for i, app in enumerate(two_servers))
    payload = solved_challenge(a)
    assert a.post("/api/v1/requests", json=_body(service="nope", altcha=payload)).status_code == 404
    reused = b.post("/api/v1/requests", json=_body(service="nope", altcha=payload))
    assert (reused.status_code, reused.get_json()["error"]) == (403, "challenge_failed")


def test_expired_holds_are_purged_with_their_files(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings
) -> None:
    before = _counts(municipality)
    _hold(municipality, object_store, test_settings)
    assert purge_expired_holds(municipality) == []  # not expired yet
    objects = purge_expired_holds(municipality, now=utcnow() + timedelta(days=2))
    assert len(objects) == 1
    for key, version_id in objects:
        object_store.discard(key, version_id)
        assert not object_store.exists(key)
    after = _counts(municipality)
    assert (after["objects"], after["entries"]) == (before["objects"], before["entries"])
    assert municipality.scalar(select(func.count()).select_from(PendingSubmission)) == 0


def test_the_emailed_link_opens_a_page_whose_button_submits(client: Any, municipality: Session) -> None:
    assert client.post("/api/v1/requests", json=_body(altcha=solved_challenge(client))).status_code == 202
    token = confirmation_token(municipality, "eleni@example.gr")
    before = _counts(municipality)
    page = client.get(f"/citizen/confirm-request?token={token}")  # a mail scanner opening the link
    assert page.status_code == 200 and "Υποβολή του αιτήματός μου" in page.get_data(as_text=True)
    assert _counts(municipality) == before
    with client.session_transaction() as session:
        session["_csrf"] = "csrf-for-test"
    done = client.post(
        "/citizen/confirm-request", data={"token": token, "_csrf": "csrf-for-test"}, follow_redirects=True
    )
    assert done.status_code == 200, done.get_data(as_text=True)[:300]
    assert "Αριθμός πρωτοκόλλου" in done.get_data(as_text=True)
    assert _counts(municipality)["entries"] == before["entries"] + 1


def test_one_phone_written_three_ways_is_one_destination(two_servers: list[Any]) -> None:
    clients = [client_from(two_servers[i % 2], f"198.51.100.{10 + i}") for i in range(3)]
    statuses = [
        client.post(
            "/api/v1/requests",
            json={"service": "nope", "applicant": {"phone": phone}, "altcha": solved_challenge(client)},
        ).status_code
        for client, phone in zip(clients, ("6912345678", "691 234 5678", "+30 691 234 5678"), strict=True)
    ]
    assert statuses == [404, 404, 429]


def test_a_challenge_that_is_not_text_is_refused_clearly(client: Any, municipality: Session) -> None:
    answer = client.post("/api/v1/requests", json=_body(altcha={"challenge": {}}))
    assert (answer.status_code, answer.get_json()["error"]) == (403, "challenge_failed")
