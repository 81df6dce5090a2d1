"""The public request API: catalogue, submission, tracking, receipts — over HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.protocol.models import ProtocolEntry
from engine.workflow.models import Case
from tests.requests.anonymous import confirmation_token, solved_challenge
from tests.requests.conftest import EXE_BYTES, PDF_BYTES, form
from web.api import requests as api_requests


def _request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service": "family_status",
        "form": form("family_status"),
        "applicant": {"name": "Ελένη Παπαδοπούλου", "email": "eleni@example.gr", "channel": "email"},
    }
    body.update(overrides)
    return body


def multipart(fields: dict[str, str], files: dict[str, tuple[bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body built in memory (werkzeug's test builder spools big ones
    to a temporary file it never closes)."""
    boundary = "polis-test-boundary-7d3f"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode()
        )
    for name, (content, filename) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + content)
    body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _post(
    client: Any, body: dict[str, Any], files: dict[str, tuple[bytes, str]] | None = None, **headers: str
) -> Any:
    """Submit without signing in, then follow the emailed link (the answer of either step that
    is not a successful hold)."""
    held = _hold(client, body, files, **headers)
    if held.status_code != 202:
        return held
    session = client.application.extensions["polis"].session_factory()
    try:
        token = confirmation_token(session, body["applicant"]["email"])
    finally:
        session.close()
    return client.post("/api/v1/requests/confirm", json={"token": token})


def _hold(
    client: Any, body: dict[str, Any], files: dict[str, tuple[bytes, str]] | None = None, **headers: str
) -> Any:
    files = {"attachments.id_copy": (PDF_BYTES, "taftotita.pdf")} if files is None else files
    body = {"altcha": solved_challenge(client), **body}
    data, content_type = multipart({"request": json.dumps(body)}, files)
    return client.post("/api/v1/requests", data=data, content_type=content_type, headers=headers)


def _count(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Case)) or 0,
        session.scalar(select(func.count()).select_from(ProtocolEntry)) or 0,
    )


def test_the_catalogue_is_public(client: Any, municipality: Session) -> None:
    listed = client.get("/api/v1/services?lang=en").get_json()["services"]
    assert len(listed) >= 8 and {"family_status", "no_debts"} <= {s["code"] for s in listed}
    detail = client.get("/api/v1/services/family_status").get_json()
    assert detail["title"] == "Πιστοποιητικό οικογενειακής κατάστασης"
    assert detail["form"]["schema"]["type"] == "object" and detail["attachments"][0]["key"] == "id_copy"
    assert client.get("/api/v1/services/nope").status_code == 404


def test_submit_then_follow_the_request(client: Any, municipality: Session) -> None:
    answer = _post(client, _request())
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["case_number"] and " ΕΙΣ " in body["protocol_number"]
    assert answer.headers["Location"] == body["status_url"]

    status = client.get(f"/api/v1/track/{body['tracking_code']}")
    assert status.status_code == 200 and status.headers["Cache-Control"] == "no-store"
    seen = status.get_json()
    assert seen["status"] == "in_progress" and seen["case_number"] == body["case_number"]
    # The process's milestones: the review task is ready, so the request is with the department.
    assert [m["code"] for m in seen["timeline"] if m["reached"]] == [
        "submitted",
        "registered",
        "under_review",
    ]
    assert [m["state"] for m in seen["timeline"]] == ["done", "done", "current", "next", "next"]
    assert seen["timeline"][0]["label"] == "Υποβλήθηκε" and seen["expected_by"] == body["expected_by"]
    text = json.dumps(seen, ensure_ascii=False)
    assert "ypallilos" not in text and "eleni@example.gr" not in text  # no staff, no personal data

    receipt = client.get(f"/api/v1/track/{body['tracking_code']}/receipt")
    assert receipt.status_code == 200 and receipt.data.startswith(b"%PDF-")
    assert client.get(f"/api/v1/track/{body['tracking_code']}/certificate").status_code == 404

    page = client.get(f"/track/{body['tracking_code']}?lang=en")
    assert page.status_code == 200 and body["case_number"] in page.get_data(as_text=True)
    assert "Registered" in page.get_data(as_text=True)


def test_a_retry_with_the_same_key_creates_nothing_new(client: Any, municipality: Session) -> None:
    first = _post(client, _request(), **{"Idempotency-Key": "3f1c9a4e-retry-0001"})
    before = _count(municipality)
    again = _post(client, _request(), **{"Idempotency-Key": "3f1c9a4e-retry-0001"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["case_number"] == first.get_json()["case_number"]
    assert _count(municipality) == before
    other = _post(
        client,
        _request(form=form("family_status") | {"city": "Ρέθυμνο"}),
        **{"Idempotency-Key": "3f1c9a4e-retry-0001"},
    )
    assert other.status_code == 409 and other.get_json()["error"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("body", "files", "status", "error"),
    [
        (_request(service="no_such_service"), None, 404, "unknown_service"),
        (_request(form={"first_name": "Ε"}), None, 422, "submission_invalid"),
        (_request(), {"attachments.id_copy": (EXE_BYTES, "taftotita.pdf")}, 422, "submission_invalid"),
        (
            _request(),
            {"attachments.id_copy": (PDF_BYTES, "../../etc/taftotita.pdf")},
            422,
            "submission_invalid",
        ),
        (_request(), {}, 422, "submission_invalid"),
        (
            _request(),
            {"attachments.id_copy": (PDF_BYTES[:8] + b"\0" * (6 * 1024 * 1024), "big.pdf")},
            422,
            "submission_invalid",
        ),
        (_request(), {"upload": (PDF_BYTES, "a.pdf")}, 422, "invalid_input"),
    ],
    ids=[
        "unknown-service",
        "form",
        "exe-as-pdf",
        "path-in-name",
        "missing-attachment",
        "over-kind-limit",
        "bad-field",
    ],
)
def test_bad_submissions_get_a_clear_4xx_and_store_nothing(
    client: Any, municipality: Session, body: dict[str, Any], files: Any, status: int, error: str
) -> None:
    before = _count(municipality)
    answer = _post(client, body, files)
    assert answer.status_code == status, answer.get_json()
    payload = answer.get_json()
    assert payload["error"] == error and payload["message"]
    if error == "submission_invalid":
        assert all(item["el"] and item["en"] and "field" in item for item in payload["details"]["errors"])
    assert _count(municipality) == before


def test_a_body_over_the_request_limit_is_refused_before_it_is_read(
    client: Any, municipality: Session
) -> None:
    client.application.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    answer = _post(
        client, _request(), {"attachments.id_copy": (b"%PDF-" + b"\0" * (2 * 1024 * 1024), "x.pdf")}
    )
    assert answer.status_code == 413 and answer.get_json()["error"] == "request_entity_too_large"


def test_not_json_and_not_multipart_is_refused(client: Any, municipality: Session) -> None:
    answer = client.post("/api/v1/requests", data="service=family_status", content_type="text/plain")
    assert answer.status_code == 422 and "multipart/form-data" in answer.get_json()["message"]


@pytest.mark.parametrize(
    "code",
    ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "' OR 1=1 --", "x", "%27%3B%20DROP%20TABLE%20cases%3B--"],
)
def test_unknown_codes_get_the_same_quick_404(client: Any, municipality: Session, code: str) -> None:
    # No sleeping to a floor (it held a worker thread per bad code): the same answer, at once.
    started = time.monotonic()
    answer = client.get(f"/api/v1/track/{code}")
    assert answer.status_code == 404
    assert time.monotonic() - started < 0.2
    assert answer.get_json() == {
        "error": "case_not_found",
        "message": "No request has this tracking code; check the link you received.",
    }


def test_guessing_codes_locks_the_client_out(client: Any, municipality: Session, monkeypatch: Any) -> None:
    code = _post(client, _request()).get_json()["tracking_code"]
    for attempt in range(api_requests.MISSES.limit):
        assert client.get(f"/api/v1/track/guess{attempt:027d}").status_code == 404
    locked = client.get(f"/api/v1/track/{code}")
    assert locked.status_code == 404  # even a real code, until the window passes
    assert locked.get_json()["message"] == "No request has this tracking code; check the link you received."
