"""An outgoing document addressed to citizens' requests appears on each request's tracking
page (title, ΕΞ number, download and verification links), whatever process the request
follows: the dispatch adds the signed PDF to the request's files and a ``document_issued``
event to its history, which the tracking page reads with its milestones (same two queries)."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.documents.models import IncomingDocument
from engine.outgoing.chain import StepSpec, submit
from engine.outgoing.drafts import BodyInput, RecipientInput, attach, create_draft
from engine.outgoing.models import OutgoingDocument, OutgoingRecipient
from engine.outgoing.signature import sign_batch_remotely
from engine.protocol.models import EntryFile, ProtocolEntry
from engine.requests.tracking import track
from engine.workflow.audit import verify_audit
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.models import Case
from signing.csc import CscService
from signing.two_step import TwoStepSigning
from storage.filesystem import FilesystemStore
from tests.outgoing.conftest import Municipality, restored, run_services
from tests.outgoing.test_signature import BASE, final_pdf
from tests.signing.pkitools import ARCH, TestPki

pytestmark = pytest.mark.usefixtures("handlers")

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
POTHOLE = (Path(__file__).parents[1] / "requests" / "pothole_report.bpmn").read_bytes()


def test_the_dispatched_document_shows_on_each_requests_tracking_page(
    client: Any,
    db_session: Session,
    town: Municipality,
    object_store: FilesystemStore,
    signing: TwoStepSigning,
    csc_url: str,
    pki: TestPki,
    smtp: SimpleNamespace,
) -> None:
    smtp.start()
    # Two requests following two different processes (one declares milestones, one does not).
    deploy_definition(db_session, POTHOLE, "pothole_report.bpmn")
    pothole = start_case(db_session, "pothole_report", department_id=town.a.id, applicant={"name": "Άννα"})
    general = start_case(db_session, "general_request", department_id=town.a.id, applicant={"name": "Νίκος"})
    codes = {c.id: db_session.get(Case, c.id).tracking_code for c in (pothole, general)}  # type: ignore[union-attr]
    assert all(not track(db_session, code).issued_documents for code in codes.values())

    draft = create_draft(
        db_session,
        object_store,
        town.clerk_a,
        kind="letter",
        subject="Απάντηση για τη λακκούβα της οδού Ανεμώνης",
        recipients=[
            RecipientInput("citizen", "Άννα Πολίτη", citizen_case_id=pothole.id),
            RecipientInput("citizen", "Νίκος Δημότης", citizen_case_id=general.id, email="nikos@example.gr"),
            RecipientInput("internal", "", unit_id=town.b.id, for_information=True),
        ],
        body=BodyInput(template_text="Η επισκευή έγινε.\nΜε εκτίμηση."),
    )
    attach(db_session, object_store, draft.id, town.clerk_a, "xartis.png", PNG)
    submit(db_session, draft.id, town.clerk_a, [StepSpec(town.mayor.id)])
    restored(db_session)
    result = sign_batch_remotely(
        db_session,
        object_store,
        signing,
        CscService(csc_url, f"{ARCH}/official"),
        [draft.id],
        town.mayor,
        pin="1234",
        base_url=BASE,
    )
    assert result.signed == [draft.id]
    run_services(db_session)
    document = db_session.get(OutgoingDocument, draft.id)
    assert document is not None and document.entry_id is not None
    entry = db_session.get(ProtocolEntry, document.entry_id)
    assert entry is not None and entry.direction == "ΕΞ"
    deliveries = dict(
        db_session.execute(
            select(OutgoingRecipient.citizen_case_id, OutgoingRecipient.delivery).where(
                OutgoingRecipient.document_id == draft.id
            )
        ).all()
    )
    assert deliveries[pothole.id] == "published"
    # The citizen with an email address gets it by email too, with the draft's attachment.
    (raw,) = smtp.mailbox.messages
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["To"] == "nikos@example.gr" and entry.display_number in mail["Subject"]
    parts = {part.get_filename(): part for part in mail.walk() if part.get_filename()}
    assert parts["xartis.png"].get_content_type() == "image/png"
    assert parts["xartis.png"].get_payload(decode=True) == PNG
    assert any(name.endswith(".pdf") for name in parts)
    # The internal unit's ΕΙΣ registration holds the signed PDF and the attachment.
    (incoming_id,) = db_session.scalars(
        select(OutgoingRecipient.incoming_document_id).where(
            OutgoingRecipient.document_id == draft.id, OutgoingRecipient.kind == "internal"
        )
    ).all()
    incoming = db_session.get(IncomingDocument, incoming_id)
    assert incoming is not None
    files = db_session.scalars(
        select(EntryFile).where(EntryFile.entry_id == incoming.entry_id).order_by(EntryFile.position)
    ).all()
    assert [f.filename for f in files][1:] == ["xartis.png"] and files[0].filename.endswith(".pdf")

    for case_id, code in codes.items():
        state = track(db_session, code)
        (issued,) = state.issued_documents
        assert issued["protocol_number"] == entry.display_number
        assert issued["verification_code"] == document.verification_code
        public = client.get(f"/api/v1/track/{code}").json["issued_documents"]
        assert public[0]["protocol_number"] == entry.display_number
        download = public[0]["download_url"]
        assert download.endswith(f"/api/v1/track/{code}/issued/{issued['file_id']}")
        pdf = client.get(download[download.index("/api/") :])
        assert pdf.status_code == 200 and pdf.data == final_pdf(object_store, document)
        verify = public[0]["verify_url"]
        assert client.get(verify[verify.index("/verify/") :]).status_code == 200
        page = client.get(f"/track/{code}", headers={"Accept-Language": "el"}).get_data(as_text=True)
        assert 'id="letters-title"' in page and "Απάντηση για τη λακκούβα της οδού Ανεμώνης" in page
        assert entry.display_number in page and f"/track/{code}/issued/" in page
        english = client.get(f"/track/{code}?lang=en").get_data(as_text=True)
        assert "Documents the municipality sent you" in english
        assert verify_audit(db_session, case_id) == []

    # One request's code does not open the other request's copy.
    other_file = track(db_session, codes[general.id]).issued_documents[0]["file_id"]
    assert client.get(f"/api/v1/track/{codes[pothole.id]}/issued/{other_file}").status_code == 404
