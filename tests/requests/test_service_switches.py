"""A service an administrator switches off: gone from the portal's catalogue and the API's
list, new requests refused with a clear message (API and portal), existing cases go on."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.administration.services import ServiceDisabled, switch_service
from engine.people.acting import acting_staff
from engine.people.applicants import login_or_create_from_oidc
from engine.people.applicants.signup import session_fingerprint
from engine.people.models import User
from engine.requests.submission import Submission, submit_request
from engine.workflow.commands import complete_task
from engine.workflow.models import Case, CaseTask
from forms.catalogue import get_service
from forms.html_form import data_to_html
from storage.filesystem import FilesystemStore
from tests.requests.conftest import PDF_BYTES, applicant, form, required_uploads
from tests.requests.test_api import _hold, _post, _request, multipart
from tests.web.staff_fixtures import CSRF


def _switch(session: Session, code: str, *, enabled: bool) -> None:
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    switch_service(session, acting_staff(session, admin), code, enabled=enabled)
    session.commit()


def test_a_switched_off_service_takes_no_new_requests_and_its_cases_go_on(
    client: Any, municipality: Session
) -> None:
    before = _post(client, _request())
    assert before.status_code == 201, before.get_json()
    case_number = before.get_json()["case_number"]
    title = "Πιστοποιητικό οικογενειακής κατάστασης"
    assert title in client.get("/services").get_data(as_text=True)

    _switch(municipality, "family_status", enabled=False)
    listed = client.get("/api/v1/services").get_json()["services"]
    assert "family_status" not in {s["code"] for s in listed} and listed
    assert title not in client.get("/services").get_data(as_text=True)
    closed = client.get("/services/family_status")
    assert closed.status_code == 409 and "δεν δέχεται νέα αιτήματα" in closed.get_data(as_text=True)

    refused = _post(client, _request())
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["error"] == "service_disabled" and "does not accept new requests" in body["message"]

    # The case submitted before goes on: its clerk's task can be completed.
    case = municipality.scalars(select(Case).where(Case.number == case_number)).one()
    task = municipality.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).first()
    assert task is not None
    clerk = municipality.scalars(select(User).where(User.username == "ypallilos")).one()
    complete_task(
        municipality, task.task_id, {"decision": "propose_approval"}, acting_staff(municipality, clerk)
    )
    after = municipality.scalars(select(CaseTask.title).where(CaseTask.case_id == case.id)).all()
    assert after == ["Approve request"]

    _switch(municipality, "family_status", enabled=True)
    assert _post(client, _request()).status_code == 201


def test_a_retry_of_a_request_accepted_before_the_switch_off_gets_its_receipt(
    client: Any, municipality: Session
) -> None:
    """The idempotency replay answers before the "switched off" check (API, anonymous hold)."""
    key = "retry-after-switch-off-0001"
    first = _post(client, _request(), **{"Idempotency-Key": key})
    assert first.status_code == 201, first.get_json()
    _switch(municipality, "family_status", enabled=False)

    again = _hold(client, _request(), **{"Idempotency-Key": key})
    assert again.status_code == 202, again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    # A new request (another key) is still refused.
    other = _hold(client, _request(), **{"Idempotency-Key": "retry-after-switch-off-0002"})
    assert other.status_code == 409 and other.get_json()["error"] == "service_disabled"


def test_a_signed_in_retry_after_the_switch_off_replays_the_receipt(
    municipality: Session, object_store: FilesystemStore
) -> None:
    """The engine's path for signed-in citizens (portal form and API): the same receipt."""

    def send() -> Submission:
        return submit_request(
            municipality,
            object_store,
            service_code="family_status",
            form=form("family_status"),
            attachments=required_uploads("family_status"),
            applicant=applicant(),
            idempotency_key="portal-form-key-0001",
        )

    first = send()
    _switch(municipality, "family_status", enabled=False)
    again = send()
    assert again.replayed and again.case_number == first.case_number
    with pytest.raises(ServiceDisabled):
        submit_request(
            municipality,
            object_store,
            service_code="family_status",
            form=form("family_status"),
            attachments=required_uploads("family_status"),
            applicant=applicant(),
            idempotency_key="portal-form-key-0002",
        )


def test_the_portal_form_sent_again_after_the_switch_off_shows_its_receipt(
    client: Any, municipality: Session
) -> None:
    """A signed-in citizen's form re-sent with its key (Back, reload) after the switch-off."""
    citizen = login_or_create_from_oidc(
        municipality,
        "https://id.example.gr",
        {"sub": "s-1", "name": "Ελένη Παπαδοπούλου", "email": "eleni@example.gr", "email_verified": True},
    )
    municipality.commit()
    with client.session_transaction() as session:
        session["applicant_id"] = str(citizen.id)
        session["applicant_auth"] = session_fingerprint(
            citizen, client.application.extensions["polis"].settings.secret()
        )
        session["_csrf"] = CSRF
    fields = {"_csrf": CSRF, "_idem": "portal-form-key-0003", "applicant.channel": "email"}
    fields |= data_to_html(get_service("family_status"), form("family_status"))
    data, content_type = multipart(fields, {"attachments.id_copy": (PDF_BYTES, "taftotita.pdf")})

    first = client.post("/services/family_status/submit", data=data, content_type=content_type)
    assert first.status_code == 303, first.get_data(as_text=True)[:500]
    _switch(municipality, "family_status", enabled=False)
    again = client.post("/services/family_status/submit", data=data, content_type=content_type)
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
