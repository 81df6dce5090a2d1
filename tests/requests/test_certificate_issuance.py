"""certificate_issuance.bpmn run to completion through PostgreSQL, with its real service tasks.

Every step is its own command that loads the case from the database and saves it back
(``expire_all`` between steps makes the test read only what was stored). Service tasks
run as the worker runs them (``fire_due_wakeups_in``): the ΕΞ protocol registration, the
PDF/A rendering, the PAdES seal against the loopback test PKI, the notices in the outbox.
Timers (reminder, expiry, SLA) fire with a travelled clock.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.domains import load_domains
from engine.issuing.registry import lookup
from engine.notifications.models import Notification
from engine.people.models import Department, User
from engine.protocol.models import EntryFile, EntryRelation, ProtocolEntry
from engine.requests import submit_request
from engine.requests.files import case_files
from engine.requests.handlers import configure_handlers, reset_handlers
from engine.requests.supply import supply_documents
from engine.requests.tracking import track
from engine.workflow.audit import verify_audit
from engine.workflow.commands import claim_task, complete_task
from engine.workflow.models import Case, CaseTask, Wakeup
from engine.workflow.timers import fire_due_wakeups_in
from forms.catalogue import get_service
from signing.sealer import PadesLevel, Sealer
from signing.signers import Pkcs12Signer
from signing.verify import Verdict, verify
from storage.filesystem import FilesystemStore
from tests.requests.conftest import applicant, form, required_uploads, upload
from tests.signing.pkitools import TestPki, openssl_verify_all, running_pki

SERVICE = "family_status"


@pytest.fixture(scope="module")
def test_pki() -> Iterator[TestPki]:
    """Root, signer, TSA and OCSP of a test PKI, served on 127.0.0.1."""
    with running_pki() as pki:
        yield pki


@pytest.fixture(scope="module")
def sealer(test_pki: TestPki) -> Sealer:
    """The municipality's seal at PAdES B-LT (timestamp + OCSP embedded)."""
    return Sealer(
        Pkcs12Signer(test_pki.p12("signer"), b"test-pass"),
        level=PadesLevel.B_LT,
        tsa_url=test_pki.pki.tsa_url,
        trust_roots=[test_pki.root],
    )


@pytest.fixture
def handlers(test_settings: Settings, object_store: FilesystemStore, sealer: Sealer) -> Iterator[None]:
    """The service handlers use the test's store and seal."""
    load_domains()
    configure_handlers(settings=test_settings, store=object_store, sealer=sealer)
    yield
    reset_handlers()


def staff(session: Session, department: str, role: str) -> User:
    """A user of ``department`` holding ``role`` (from the demo municipality)."""
    users = session.scalars(
        select(User)
        .join(Department, User.department_id == Department.id)
        .where(Department.code == department)
    ).all()
    return next(u for u in users if role in u.roles)


def submit(session: Session, store: FilesystemStore, settings: Settings, **overrides: Any) -> Any:
    """A family-status request from Eleni."""
    return submit_request(
        session,
        store,
        service_code=SERVICE,
        form=form(SERVICE),
        attachments=required_uploads(SERVICE),
        applicant=applicant("email"),
        settings=settings,
        **overrides,
    )


def only_task(session: Session, case_id: uuid.UUID | str) -> CaseTask:
    """The one open task of the case, as stored."""
    session.expire_all()
    tasks = session.scalars(select(CaseTask).where(CaseTask.case_id == uuid.UUID(str(case_id)))).all()
    assert len(tasks) == 1, [t.bpmn_id for t in tasks]
    return tasks[0]


def run_services(session: Session, now: datetime | None = None) -> int:
    """Run what the worker would run now; the number of wakeups that ran."""
    ran = total = fire_due_wakeups_in(session, now)
    while ran:
        ran = fire_due_wakeups_in(session, now)
        total += ran
    session.expire_all()
    return total


def _errors(session: Session, case_id: str) -> list[str | None]:
    """Why service tasks are waiting for a retry (for assertion messages)."""
    return list(
        session.scalars(
            select(Wakeup.last_error).where(Wakeup.case_id == uuid.UUID(case_id), Wakeup.attempts > 0)
        )
    )


def case_row(session: Session, case_id: str) -> Case:
    session.expire_all()
    row = session.get(Case, uuid.UUID(case_id))
    assert row is not None
    return row


def notices(session: Session, case_id: str) -> list[str]:
    """The case's notices, sorted (one test transaction gives them all the same time)."""
    return sorted(
        n.template_key
        for n in session.scalars(select(Notification).where(Notification.case_id == uuid.UUID(case_id)))
    )


def test_ask_for_a_document_then_approve_issues_a_sealed_certificate(
    municipality: Session,
    object_store: FilesystemStore,
    test_settings: Settings,
    handlers: None,
    test_pki: TestPki,
) -> None:
    session = municipality
    department = get_service(SERVICE).department
    clerk, head = staff(session, department, "clerk"), staff(session, department, "head")
    submitted = submit(session, object_store, test_settings)

    review = only_task(session, submitted.case_id)
    assert (review.bpmn_id, review.role, review.form_key) == ("review", "clerk", "certificate_review")
    assert review.due_at is not None  # the legal deadline (working days) is the review's SLA
    claim_task(session, review.task_id, clerk)
    complete_task(
        session,
        review.task_id,
        {"decision": "ask_citizen", "requested_document": "Λογαριασμός ΔΕΚΟ του τελευταίου μήνα"},
        clerk,
    )
    assert run_services(session) == 1  # the notice asking for the document
    assert notices(session, submitted.case_id) == ["document_requested", "request_received"]
    tracking = track(session, submitted.tracking_code)
    assert tracking.status == "waiting_for_you"
    assert tracking.action_required and tracking.action_required["document"].startswith("Λογαριασμός ΔΕΚΟ")
    assert (
        session.scalars(select(CaseTask).where(CaseTask.case_id == uuid.UUID(submitted.case_id))).all() == []
    )

    supply_documents(
        session, object_store, submitted.tracking_code, [upload("bill", "bill.pdf")], note="Ορίστε"
    )
    review = only_task(session, submitted.case_id)
    assert review.bpmn_id == "review"
    assert track(session, submitted.tracking_code).status == "in_progress"
    complete_task(session, review.task_id, {"decision": "propose_approval", "note": "Όλα εντάξει"}, clerk)

    approve = only_task(session, submitted.case_id)
    assert (approve.bpmn_id, approve.role) == ("approve", "head")
    complete_task(session, approve.task_id, {"decision": "approve"}, head)
    assert run_services(session) == 5, _errors(
        session, submitted.case_id
    )  # ΕΞ, render, seal, outcome, notice

    case = case_row(session, submitted.case_id)
    assert (case.status, case.milestone) == ("completed", "Issued")
    data = case.data
    assert data["outcome"] == "issued"
    out = session.get(ProtocolEntry, uuid.UUID(data["protocol_out"]["entry_id"]))
    assert out is not None and out.direction == "ΕΞ" and out.case_id == case.id
    assert out.subject == f"Χορήγηση: {get_service(SERVICE).title.el}"
    related = session.scalars(select(EntryRelation.related_id).where(EntryRelation.entry_id == out.id)).all()
    assert related == [uuid.UUID(submitted.protocol_entry_id)]

    certificate = data["certificate"]
    files = {f.kind: f for f in case_files(session, case.id)}
    sealed_file = files["certificate"]
    assert str(sealed_file.id) == certificate["file_id"] and sealed_file.sha256 == certificate["sha256"]
    attached = session.scalars(select(EntryFile).where(EntryFile.entry_id == out.id)).all()
    assert [(f.sha256, f.storage_key) for f in attached] == [(sealed_file.sha256, sealed_file.object_key)]
    issued = lookup(session, certificate["verification_code"])
    assert issued.protocol_number == out.display_number and issued.sha256 == sealed_file.sha256

    with object_store.open(sealed_file.object_key, expected_sha256=sealed_file.sha256) as reader:
        pdf = reader.read()
    report = verify(pdf, trust_roots=[test_pki.root])
    assert report.verdict is Verdict.VALID, report.reason
    assert openssl_verify_all(pdf, test_pki.root_pem) == 1  # and OpenSSL agrees
    text = _text(pdf)
    assert out.display_number in text and case.number in text  # the ΕΞ number is printed on it

    tracking = track(session, submitted.tracking_code)
    assert tracking.status == "issued" and tracking.certificate == certificate
    milestones = [m.code for m in tracking.timeline]
    assert milestones == [
        "submitted",
        "registered",
        "under_review",
        "waiting_for_you",
        "document_received",
        "under_review",
        "approved",
        "issued",
    ]  # fmt: skip  (reviewed again once the document arrived: the process's own milestones)
    assert notices(session, submitted.case_id) == [
        "certificate_issued",
        "document_requested",
        "request_received",
    ]
    issued_notice = session.scalars(
        select(Notification).where(
            Notification.case_id == case.id, Notification.template_key == "certificate_issued"
        )
    ).one()
    assert out.display_number in issued_notice.body_text
    assert session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all() == []
    assert verify_audit(session, case.id) == []


def _text(pdf: bytes) -> str:
    """The certificate's text, as a reader sees it (pdftotext, Debian poppler-utils)."""
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_the_tracking_page_shows_the_outcome_and_its_step_together(
    municipality: Session,
    object_store: FilesystemStore,
    test_settings: Settings,
    handlers: None,
    test_pki: TestPki,
    decision: str,
) -> None:
    """Step by step, as the worker runs them: the timeline's last step (issued, rejected)
    appears with the outcome, never before it; from then on (while the notice may still
    wait for the mail server) nothing is current or ahead."""
    session = municipality
    department = get_service(SERVICE).department
    clerk, head = staff(session, department, "clerk"), staff(session, department, "head")
    submitted = submit(session, object_store, test_settings)
    review = (
        {"decision": "propose_approval"}
        if decision == "approve"
        else {
            "decision": "propose_rejection",
            "reason": "Δεν είστε δημότης του Δήμου.",
        }
    )
    complete_task(session, only_task(session, submitted.case_id).task_id, review, clerk)
    approval = (
        {"decision": "approve"}
        if decision == "approve"
        else {"decision": "reject", "reason": "Δεν είστε δημότης."}
    )
    complete_task(session, only_task(session, submitted.case_id).task_id, approval, head)
    outcome = "issued" if decision == "approve" else "rejected"

    seen_before_the_end = False
    while fire_due_wakeups_in(session, limit=1):  # one step at a time
        session.expire_all()
        tracking = track(session, submitted.tracking_code)
        states = [(m.code, m.state) for m in tracking.timeline]
        if tracking.status == outcome:
            assert states[-1] == (outcome, "done") and all(s == "done" for _, s in states), states
            seen_before_the_end |= case_row(session, submitted.case_id).status == "active"
        else:
            assert (outcome, "done") not in states, f"{outcome} shown while the page says {tracking.status}"
    assert seen_before_the_end, "nothing was checked between the outcome and the end"
    assert case_row(session, submitted.case_id).status == "completed"


def test_returned_then_rejected_registers_the_answer_and_tells_the_reason(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings, handlers: None
) -> None:
    session = municipality
    department = get_service(SERVICE).department
    clerk, head = staff(session, department, "clerk"), staff(session, department, "head")
    submitted = submit(session, object_store, test_settings)

    review = only_task(session, submitted.case_id)
    complete_task(
        session, review.task_id, {"decision": "propose_rejection", "reason": "Δεν είστε δημότης"}, clerk
    )
    approve = only_task(session, submitted.case_id)
    complete_task(session, approve.task_id, {"decision": "return", "comment": "Ελέγξτε το Δημοτολόγιο"}, head)
    review = only_task(session, submitted.case_id)
    assert review.bpmn_id == "review"
    complete_task(
        session,
        review.task_id,
        {"decision": "propose_rejection", "reason": "Δεν είστε εγγεγραμμένη στο Δημοτολόγιο"},
        clerk,
    )
    approve = only_task(session, submitted.case_id)
    complete_task(
        session,
        approve.task_id,
        {"decision": "reject", "reason": "Δεν είστε εγγεγραμμένη στο Δημοτολόγιο του Δήμου."},
        head,
    )
    assert run_services(session) == 3  # outcome, ΕΞ answer, notice

    case = case_row(session, submitted.case_id)
    assert (case.status, case.milestone) == ("completed", "Rejected")
    assert case.data["outcome"] == "rejected"
    assert case.data["reject_reason"] == "Δεν είστε εγγεγραμμένη στο Δημοτολόγιο του Δήμου."
    out = session.get(ProtocolEntry, uuid.UUID(case.data["protocol_out"]["entry_id"]))
    assert out is not None and out.direction == "ΕΞ" and out.subject.startswith("Απάντηση (απόρριψη)")
    assert "certificate" not in case.data and not case_files(session, case.id, ["certificate"])
    tracking = track(session, submitted.tracking_code)
    assert (tracking.status, tracking.rejection_reason) == ("rejected", case.data["reject_reason"])
    rejected = session.scalars(
        select(Notification).where(
            Notification.case_id == case.id, Notification.template_key == "request_rejected"
        )
    ).one()
    assert "Δημοτολόγιο του Δήμου" in rejected.body_text
    assert verify_audit(session, case.id) == []


def test_no_reply_gets_a_reminder_then_the_request_expires(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings, handlers: None
) -> None:
    session = municipality
    clerk = staff(session, get_service(SERVICE).department, "clerk")
    submitted = submit(session, object_store, test_settings)
    review = only_task(session, submitted.case_id)
    complete_task(
        session, review.task_id, {"decision": "ask_citizen", "requested_document": "Ταυτότητα"}, clerk
    )
    assert run_services(session) == 1
    start = datetime.now(UTC)

    assert run_services(session, start + timedelta(days=4)) == 0  # nothing before five days
    with time_machine.travel(start + timedelta(days=5, minutes=1), tick=False):
        assert run_services(session) == 2  # the reminder timer and its notice
    assert notices(session, submitted.case_id) == [
        "document_requested",
        "document_requested",
        "request_received",
    ]
    assert track(session, submitted.tracking_code).status == "waiting_for_you"

    with time_machine.travel(start + timedelta(days=15, minutes=2), tick=False):
        assert run_services(session) == 4  # expiry, outcome, ΕΞ answer, notice
    case = case_row(session, submitted.case_id)
    assert (case.status, case.milestone, case.data["outcome"]) == ("completed", "Rejected", "rejected")
    assert case.data["reject_reason"].startswith("Δεν προσκομίστηκε")
    assert "request_rejected" in notices(session, submitted.case_id)


def test_deadlines_escalate_review_to_the_head_and_approval_to_the_substitute(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings, handlers: None
) -> None:
    session = municipality
    submitted = submit(session, object_store, test_settings)
    review = only_task(session, submitted.case_id)
    assert review.due_at is not None
    with time_machine.travel(review.due_at + timedelta(minutes=1), tick=False):
        assert run_services(session) == 1
        escalated = only_task(session, submitted.case_id)
        assert (escalated.bpmn_id, escalated.role) == ("review_escalated", "head")
        head = staff(session, get_service(SERVICE).department, "head")
        complete_task(session, escalated.task_id, {"decision": "propose_approval"}, head)
        approve = only_task(session, submitted.case_id)
        assert approve.bpmn_id == "approve" and approve.due_at is not None
    with time_machine.travel(approve.due_at + timedelta(minutes=1), tick=False):
        assert run_services(session) == 1
        substitute_task = only_task(session, submitted.case_id)
        department = session.scalars(
            select(Department).where(Department.code == get_service(SERVICE).department)
        ).one()
        assert (substitute_task.bpmn_id, substitute_task.assignee_id) == (
            "approve_substitute",
            department.substitute_user_id,
        )
