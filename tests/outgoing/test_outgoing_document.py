"""outgoing_document.bpmn run to completion through PostgreSQL, the workflow restored from the
database before every step: a reply drafted from a template, a three-person chain built from the
organisation chart (head → director → mayor), a return by the director's substitute with a new
version and a restarted chain, a reservation, the mayor's qualified signature through the CSC
dummy, ΕΞ registration with the number stamped, and delivery by email (loopback SMTP) and as
an ΕΙΣ registration in the recipient unit's folder."""

from __future__ import annotations

import email
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.documents.models import DocumentAssignment, IncomingDocument
from engine.documents.registration import register_incoming
from engine.issuing.registry import lookup
from engine.outgoing.chain import approve, default_chain, return_to_author, round_steps, submit
from engine.outgoing.drafts import (
    BodyInput,
    RecipientInput,
    RelatedInput,
    compare,
    create_draft,
    save_body,
    versions,
)
from engine.outgoing.errors import DraftInvalid, NotYourTurn
from engine.outgoing.history import events
from engine.outgoing.models import OutgoingDocument, Reservation
from engine.outgoing.signature import documents_to_sign, sign_batch_remotely
from engine.people.models import Substitution
from engine.protocol.models import ProtocolEntry
from engine.workflow.audit import verify_audit
from engine.workflow.models import Case, CaseTask
from signing.csc import CscService
from signing.two_step import TwoStepSigning
from signing.verify import Verdict, verify
from storage.filesystem import FilesystemStore
from tests.documents.conftest import letter
from tests.outgoing.conftest import Municipality, restored, run_services
from tests.signing.pkitools import ARCH, TestPki, openssl_verify_all

pytestmark = pytest.mark.usefixtures("handlers")


def task_of(session: Session, document: OutgoingDocument) -> CaseTask:
    (task,) = session.scalars(
        select(CaseTask).where(CaseTask.case_id == document.case_id, CaseTask.bpmn_id != "record_overdue")
    ).all()
    return task


def test_reply_through_a_three_person_chain_with_a_return_and_a_substitute(
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    csc_url: str,
    pki: TestPki,
    smtp: SimpleNamespace,
) -> None:
    smtp.start()
    incoming = register_incoming(
        db_session, object_store, letter(for_action=(town.a.id,)), registered_by=town.registrar
    )
    incoming_entry = db_session.get(ProtocolEntry, incoming.entry_id)
    assert incoming_entry is not None

    # The clerk drafts the reply from the letter template: version 1.
    draft = create_draft(
        db_session,
        object_store,
        town.clerk_a,
        kind="letter",
        subject="Απάντηση στην πρόσκληση για την αντιπλημμυρική προστασία",
        recipients=[
            RecipientInput("external", "Περιφέρεια Κρήτης", email="protocol@crete.example.gr"),
            RecipientInput("internal", "", unit_id=town.b.id, for_information=True),
        ],
        related=[RelatedInput(entry_id=incoming_entry.id, reply_to=True)],
        body=BodyInput(template_text="Σας γνωρίζουμε ότι θα παραστούμε.\nΜε εκτίμηση."),
    )
    restored(db_session)
    # The chain from the organisation chart: head of the department → director → mayor.
    chain = default_chain(db_session, town.clerk_a)
    assert [s.person_id for s in chain] == [town.head_a.id, town.director.id, town.mayor.id]

    # The director is away today: a dated substitution names the deputy.
    today = date.today()
    db_session.add(
        Substitution(
            unit_id=town.directorate.id,
            head_user_id=town.director.id,
            substitute_user_id=town.deputy.id,
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=5),
            reason="άδεια",
        )
    )
    db_session.flush()

    submit(db_session, draft.id, town.clerk_a)
    restored(db_session)
    draft = db_session.get(OutgoingDocument, draft.id)
    assert draft is not None and (draft.status, draft.round) == ("in_chain", 1)
    task = task_of(db_session, draft)
    assert (task.bpmn_id, task.assignee_id) == ("review", town.head_a.id)
    assert task.due_at is not None and task.due_at > utcnow()
    with pytest.raises(NotYourTurn):
        approve(db_session, draft.id, town.director)  # not their turn yet
    restored(db_session)

    approve(db_session, draft.id, town.head_a, comment="Σωστό.")
    restored(db_session)
    task = task_of(db_session, draft)
    # The director's step goes to the deputy who stands in today.
    assert (task.bpmn_id, task.assignee_id) == ("review", town.deputy.id)
    with pytest.raises(DraftInvalid, match="comment"):
        return_to_author(db_session, draft.id, town.deputy, "  ")
    restored(db_session)
    return_to_author(db_session, draft.id, town.deputy, "Προσθέστε τα ονόματα των εκπροσώπων.")
    restored(db_session)
    draft = db_session.get(OutgoingDocument, draft.id)
    assert draft is not None and draft.status == "returned"
    task = task_of(db_session, draft)
    assert (task.bpmn_id, task.assignee_id) == ("revise", town.clerk_a.id)
    states = [(s.person_id, s.state) for s in round_steps(db_session, draft.id, 1)]
    assert states == [
        (town.head_a.id, "approved"),
        (town.director.id, "returned"),
        (town.mayor.id, "closed"),
    ]

    # A new version, compared with the first; the chain restarts from its first step.
    save_body(
        db_session,
        object_store,
        draft,
        town.clerk_a,
        BodyInput(template_text="Σας γνωρίζουμε ότι θα παραστούν ο κ. Α και η κα Β.\nΜε εκτίμηση."),
    )
    assert [v.number for v in versions(db_session, draft.id)] == [1, 2]
    diff = compare(db_session, draft.id, 1, 2)
    assert "-Σας γνωρίζουμε ότι θα παραστούμε." in diff
    assert "+Σας γνωρίζουμε ότι θα παραστούν ο κ. Α και η κα Β." in diff
    submit(db_session, draft.id, town.clerk_a)
    restored(db_session)
    assert task_of(db_session, draft).assignee_id == town.head_a.id
    approve(db_session, draft.id, town.head_a)
    restored(db_session)
    approve(
        db_session,
        draft.id,
        town.deputy,
        comment="Εγκρίνεται.",
        reservation="Επιφύλαξη ως προς την ημερομηνία της σύσκεψης.",
    )
    restored(db_session)
    draft = db_session.get(OutgoingDocument, draft.id)
    assert draft is not None and (draft.status, draft.round) == ("to_sign", 2)
    task = task_of(db_session, draft)
    assert (task.bpmn_id, task.assignee_id) == ("sign", town.mayor.id)
    (reservation,) = db_session.scalars(select(Reservation).where(Reservation.document_id == draft.id)).all()
    assert reservation.person_id == town.deputy.id
    second_round = round_steps(db_session, draft.id)
    assert second_round[1].acted_by_id == town.deputy.id and second_round[1].person_id == town.director.id

    # The step's SLA passes: the delay is recorded and the step stays with the mayor.
    with time_machine.travel(utcnow() + timedelta(days=10), tick=False):
        run_services(db_session)
    assert task_of(db_session, draft).assignee_id == town.mayor.id
    assert "step_overdue" in [e.action for e in events(db_session, draft.id)]

    # The mayor signs through the CSC dummy (one authorisation).
    assert [d.id for d in documents_to_sign(db_session, town.mayor)] == [draft.id]
    result = sign_batch_remotely(
        db_session,
        object_store,
        signing,
        CscService(csc_url, f"{ARCH}/official"),
        [draft.id],
        town.mayor,
        pin="1234",
        base_url="http://polis.test",
    )
    assert result.signed == [draft.id], result
    run_services(db_session)  # registration and dispatch

    draft = db_session.get(OutgoingDocument, draft.id)
    assert draft is not None and draft.status == "sent"
    entry = db_session.get(ProtocolEntry, draft.entry_id)
    assert entry is not None and entry.direction == "ΕΞ"
    case = db_session.get(Case, draft.case_id)
    assert case is not None and case.status == "completed"
    assert verify_audit(db_session, case.id) == []

    # The final PDF: the mayor's signature and the registration seal, both valid.
    reader = object_store.open(draft.final_key, expected_sha256=draft.final_sha256)
    final = reader.read()
    reader.close()
    report = verify(final, [pki.root], allow_fetching=False)
    assert report.verdict is Verdict.VALID, report.reason
    assert openssl_verify_all(final, pki.root_pem) == 2
    issued = lookup(db_session, draft.verification_code or "")
    assert issued is not None and issued.signer_name == town.mayor.full_name

    # The external recipient got the email with the signed PDF and the verification link.
    (raw,) = smtp.mailbox.messages
    message = email.message_from_bytes(raw)
    assert message["To"] == "protocol@crete.example.gr"
    parts = {part.get_content_type(): part for part in message.walk()}
    assert parts["application/pdf"].get_payload(decode=True) == final
    assert f"/verify/{draft.verification_code}" in parts["text/plain"].get_payload(decode=True).decode()

    # Unit B finds it registered ΕΙΣ, for information, in its folder.
    incoming_b = db_session.scalars(
        select(IncomingDocument)
        .join(DocumentAssignment, DocumentAssignment.document_id == IncomingDocument.id)
        .where(DocumentAssignment.department_id == town.b.id)
    ).one()
    entry_b = db_session.get(ProtocolEntry, incoming_b.entry_id)
    assert (
        entry_b is not None
        and entry_b.direction == "ΕΙΣ"
        and entry_b.sender_reference == entry.display_number
    )
