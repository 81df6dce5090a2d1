"""The clerk corrects the facts a certificate will state, before approval, through PostgreSQL.

The facts come from the service's certificate template; corrections are validated against the
service's form, audited, shown to the head, printed on the preview and on the sealed certificate,
and refused to anyone but who may work the preparation step, and after it.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.settings import Settings
from engine.casework.certificate_facts import (
    FactsInvalid,
    correct_certificate_facts,
    corrected_cases,
    corrections,
    stated_facts,
)
from engine.casework.workspace import certificate_preview_pdf, task_page
from engine.issuing.stated_facts import stated_fields
from engine.people.models import User
from engine.requests.files import case_files
from engine.workflow.audit import verify_audit
from engine.workflow.commands import claim_task, complete_task
from engine.workflow.errors import TaskConflict, TaskForbidden, TaskNotFound
from engine.workflow.models import AuditEvent
from forms.catalogue import get_service
from signing.verify import Verdict, verify
from storage.filesystem import FilesystemStore
from tests.requests.test_certificate_issuance import (  # noqa: F401 - fixtures used by name
    SERVICE,
    _text,
    case_row,
    handlers,
    only_task,
    run_services,
    sealer,
    staff,
    submit,
    test_pki,
)
from tests.signing.pkitools import TestPki

VERIFIED_SURNAME = "Παπαδοπούλου-Κωστή"
VERIFIED_STREET = "Οδός Δασκαλογιάννη 4"


def test_the_certificate_states_what_its_template_prints() -> None:
    fields = stated_fields(get_service(SERVICE))
    assert fields[:3] == ("registry_number", "birth_date", "purpose")  # the template's own, first
    assert {"last_name", "first_name", "street", "afm"} <= set(fields)  # and the shared applicant part
    assert "email" not in fields and "phone" not in fields  # asked on the form, never printed


def test_corrected_facts_are_audited_previewed_shown_to_the_head_and_sealed(
    municipality: Session,
    object_store: FilesystemStore,
    test_settings: Settings,
    handlers: None,  # noqa: F811
    test_pki: TestPki,  # noqa: F811
) -> None:
    session = municipality
    department = get_service(SERVICE).department
    clerk, head = staff(session, department, "clerk"), staff(session, department, "head")
    submitted = submit(session, object_store, test_settings)
    review_id = only_task(session, submitted.case_id).task_id
    claim_task(session, review_id, clerk)
    case_id = uuid.UUID(submitted.case_id)

    changed = correct_certificate_facts(
        session, review_id, {"street": VERIFIED_STREET, "last_name": VERIFIED_SURNAME}, clerk
    )
    assert changed == ["last_name", "street"]  # in the certificate's order
    facts = {f.name: f for f in stated_facts(case_row(session, submitted.case_id), "el")}
    assert (
        facts["last_name"].value == VERIFIED_SURNAME and facts["last_name"].applicant_value == "Παπαδοπούλου"
    )
    assert facts["last_name"].corrected and not facts["first_name"].corrected
    audited = session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == "facts_corrected")
    ).all()
    assert [(e.details["field"], e.details["old"], e.details["new"], e.actor_id) for e in audited] == [
        ("last_name", "Παπαδοπούλου", VERIFIED_SURNAME, clerk.id),
        ("street", "Οδός Χάληδων 12", VERIFIED_STREET, clerk.id),
    ]
    # The same value again changes nothing and writes nothing.
    assert correct_certificate_facts(session, review_id, {"last_name": VERIFIED_SURNAME}, clerk) == []

    # A value the service's form refuses changes nothing, and says which field and why.
    before = dict(case_row(session, submitted.case_id).data)
    with pytest.raises(FactsInvalid) as refused:
        correct_certificate_facts(session, review_id, {"afm": "123456789", "city": "Ηράκλειο"}, clerk)
    assert [e.field for e in refused.value.errors] == ["afm"] and "ΑΦΜ" in refused.value.errors[0].el
    assert case_row(session, submitted.case_id).data == before
    with pytest.raises(InvalidInput):
        correct_certificate_facts(session, review_id, {"email": "x@example.gr"}, clerk)  # not stated

    # Only who may work the preparation step: not a colleague while the clerk holds it.
    same_department = select(User).where(User.department_id == clerk.department_id)
    colleague = next(u for u in session.scalars(same_department) if "clerk" in u.roles and u.id != clerk.id)
    with pytest.raises(TaskConflict):
        correct_certificate_facts(session, review_id, {"city": "Ηράκλειο"}, colleague)

    preview = _text(
        certificate_preview_pdf(
            session, case_id, clerk, municipality_name="Δήμος Χανίων", base_url="http://127.0.0.1"
        )
    )
    assert VERIFIED_SURNAME in preview and VERIFIED_STREET in preview and "Χάληδων" not in preview

    complete_task(session, review_id, {"decision": "propose_approval", "facts_confirmed": True}, clerk)
    approve_id = only_task(session, submitted.case_id).task_id
    # Proposed: nobody can change the facts any more, not the clerk, not the head.
    with pytest.raises(TaskNotFound):
        correct_certificate_facts(session, review_id, {"city": "Ηράκλειο"}, clerk)
    with pytest.raises(TaskForbidden):
        correct_certificate_facts(session, approve_id, {"city": "Ηράκλειο"}, head)
    # The head sees what was corrected, in the queue and on the approval page.
    assert corrected_cases(session, {case_id}, "el") == {case_id: ["Επώνυμο", "Οδός και αριθμός"]}
    assert [(c.label, c.old, c.new) for c in corrections(session, case_id, "en")][:1] == [
        (
            "Surname",
            "Παπαδοπούλου",
            VERIFIED_SURNAME,
        )
    ]
    page = task_page(session, approve_id, head, "el")
    assert not page.may_correct_facts and len(page.corrections) == 2

    complete_task(session, approve_id, {"decision": "approve"}, head)
    assert run_services(session) == 5
    case = case_row(session, submitted.case_id)
    assert case.status == "completed"
    sealed = {f.kind: f for f in case_files(session, case.id)}["certificate"]
    with object_store.open(sealed.object_key, expected_sha256=sealed.sha256) as reader:
        pdf = reader.read()
    assert verify(pdf, trust_roots=[test_pki.root]).verdict is Verdict.VALID
    text = _text(pdf)
    assert VERIFIED_SURNAME in text and VERIFIED_STREET in text and "Χάληδων" not in text
    assert case.data["form"]["last_name"] == "Παπαδοπούλου"  # what the applicant typed stays as typed
    assert verify_audit(session, case.id) == []
