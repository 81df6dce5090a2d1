"""Receipts (stored PDF/A, made once) and the BPMN service-task handler."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.protocol.entries import register
from engine.protocol.errors import EntryNotFound, InvalidEntry
from engine.protocol.models import ProtocolEntry
from engine.protocol.receipts import ensure_receipt, receipt_for
from engine.protocol.tasks import handle_service_call, register_protocol
from engine.workflow.service_tasks import ServiceCall
from storage.filesystem import FilesystemStore
from storage.models import StoredObjectRecord
from tests.protocol.factories import fixed_clock, incoming, make_user

NOW = fixed_clock(datetime(2026, 7, 1, 21, 15, tzinfo=UTC))


class Sealer:
    """Stands in for the signing package's sealer: marks the PDF so the test sees it ran."""

    def seal_receipt(self, pdf: bytes, *, entry: ProtocolEntry) -> bytes:
        return pdf + f"%sealed {entry.number}\n".encode()


def test_a_receipt_is_a_stored_pdfa_made_once(db_session: Session, object_store: FilesystemStore) -> None:
    clerk = make_user(db_session)
    entry = register(db_session, incoming(), registered_by=clerk, now=NOW)
    key, filename = receipt_for(
        db_session, object_store, entry.id, clerk, issuer="Δήμος Χανίων", sealer=Sealer()
    )
    assert filename == f"apodeixi-GEN-{entry.number}-2026.pdf"
    with object_store.open(key) as reader:
        pdf = reader.read()
    assert pdf.startswith(b"%PDF-")
    root = PdfFileReader(io.BytesIO(pdf)).root
    assert b"pdfaid:part" in root["/Metadata"].data  # PDF/A identification (XMP)
    assert root["/OutputIntents"]
    assert pdf.endswith(f"%sealed {entry.number}\n".encode())
    assert ensure_receipt(db_session, object_store, entry, issuer="Δήμος Χανίων") == key
    record = db_session.scalars(select(StoredObjectRecord).where(StoredObjectRecord.key == key)).one()
    assert record.filename == filename


def test_receipts_of_guarded_entries_need_clearance(
    db_session: Session, object_store: FilesystemStore
) -> None:
    cleared = make_user(db_session, clearance=["ΠΔ"])
    entry = register(db_session, incoming(classification="ΠΔ"), registered_by=cleared, now=NOW)
    with pytest.raises(EntryNotFound):
        receipt_for(db_session, object_store, entry.id, make_user(db_session), issuer="Δήμος")


def test_the_service_task_registers_from_case_data(db_session: Session) -> None:
    case_id = uuid.uuid4()
    clerk = make_user(db_session)
    data = {"applicant": "Νίκος Αλεξίου", "kind": "βεβαίωση μόνιμης κατοικίας", "reference": "ΑΒ-12"}
    entry = register_protocol(
        db_session,
        data,
        {
            "direction": "incoming",
            "subject": "Αίτηση για {kind}",
            "sender_field": "applicant",
            "delivery_method": "portal",
            "case_id": case_id,
            "case_number": "2026/000123",
            "registered_by": clerk,
            "now": NOW,
        },
    )
    assert (entry.direction, entry.subject, entry.sender) == (
        "ΕΙΣ",
        "Αίτηση για βεβαίωση μόνιμης κατοικίας",
        "Νίκος Αλεξίου",
    )
    assert (entry.case_id, entry.case_number, entry.registered_by_id) == (case_id, "2026/000123", clerk.id)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"direction": "ΕΞ", "subject_field": "missing"}, "no 'missing'"),
        ({"direction": "ΕΞ", "subject": "Θέμα {__class__}"}, "not a plain key"),
        ({"direction": "ΕΞ", "subject": "Θέμα {kind.upper}"}, "not a plain key"),
        ({"subject": "Θέμα"}, "direction"),
    ],
)
def test_the_service_task_refuses_bad_parameters(
    db_session: Session, params: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidEntry, match=message):
        register_protocol(db_session, {"kind": "x"}, params)


def test_the_engine_adapter_registers_from_a_service_call(db_session: Session) -> None:
    call = ServiceCall(
        case_id=uuid.uuid4(),
        case_number="2026/000007",
        bpmn_id="register_answer",
        data={"title": "Απάντηση σε αίτημα", "protocol": {"direction": "ΕΞ", "subject_field": "title"}},
        session=db_session,
    )
    result = handle_service_call(call)["protocol_entry"]
    entry = db_session.get(ProtocolEntry, uuid.UUID(result["id"]))
    assert entry is not None
    assert (entry.case_id, entry.case_number, entry.subject) == (
        call.case_id,
        "2026/000007",
        "Απάντηση σε αίτημα",
    )
    assert result["display"] == entry.display_number
    with pytest.raises(InvalidEntry, match="no registration parameters"):
        handle_service_call(ServiceCall(call.case_id, "x", "t", {}, db_session))
