"""My requests: a request submitted without signing in and confirmed from the emailed link
belongs to whoever holds that mailbox — it is listed for an account once the account's (same)
address is verified, and for nobody else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.people.applicants.models import Applicant
from engine.requests.my_requests import applicant_case, applicant_cases
from engine.requests.pending import confirm_submission, hold_submission
from engine.workflow.errors import CaseNotFound
from storage.filesystem import FilesystemStore
from tests.requests.anonymous import confirmation_token
from tests.requests.conftest import applicant, form, required_uploads


def _account(session: Session, email: str, *, verified: bool) -> Applicant:
    account = Applicant(
        email=email,
        full_name="Ελένη Παπαδοπούλου",
        email_verified_at=datetime(2026, 12, 5, tzinfo=UTC) if verified else None,
    )
    session.add(account)
    session.flush()
    return account


def test_a_confirmed_anonymous_request_is_listed_for_the_verified_owner_of_its_address(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings
) -> None:
    hold_submission(
        municipality,
        object_store,
        test_settings,
        service_code="family_status",
        form=form("family_status"),
        attachments=required_uploads("family_status"),
        applicant=applicant(email="Eleni@Example.gr"),
    )
    unconfirmed = _account(municipality, "eleni@example.gr", verified=True)
    assert applicant_cases(municipality, unconfirmed) == []  # held, not confirmed: nothing yet
    token = confirmation_token(municipality, "eleni@example.gr")
    submitted = confirm_submission(municipality, object_store, test_settings, token)

    listed = applicant_cases(municipality, unconfirmed)
    assert [state.case_number for _, state in listed] == [submitted.case_number]
    assert (
        applicant_case(municipality, unconfirmed, submitted.tracking_code).case_number
        == submitted.case_number
    )

    municipality.delete(unconfirmed)
    municipality.flush()
    not_verified = _account(municipality, "eleni@example.gr", verified=False)
    someone_else = _account(municipality, "nikos@example.gr", verified=True)
    for account in (not_verified, someone_else):
        assert applicant_cases(municipality, account) == []
        with pytest.raises(CaseNotFound):
            applicant_case(municipality, account, submitted.tracking_code)
