"""The case file (φάκελος) as a ZIP: for an incoming document and for a citizen's request case,
every item of the manifest is in the archive with the SHA-256 of its bytes, and every stored
file's hash is the one storage holds; only those who may read the case export it; the archive
is streamed in bounded pieces; a corrupt stored file breaks the export instead of hiding in it."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import uuid
import zipfile
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.archive.bundle import CHUNK_BYTES, INDEX, MANIFEST, stream_case_file
from engine.archive.casefile import CaseFilePlan, RecordPart, StoredPart, case_file_of_document
from engine.archive.errors import CaseFileRestricted
from engine.documents.handling import file_document, route_to_clerk
from engine.documents.models import DocumentEvent
from engine.documents.registration import IncomingFile, register_incoming
from engine.people.demo import seed_demo_municipality
from engine.people.models import User
from engine.requests import submit_request
from engine.workflow.definitions import deploy_directory
from engine.workflow.models import AuditEvent, CaseTask
from storage.base import IntegrityError
from storage.filesystem import FilesystemStore
from storage.models import StoredObjectRecord
from tests.documents.conftest import SCANNED_LETTER, Town, letter
from tests.requests.conftest import applicant, form, upload
from tests.web.staff_fixtures import sign_in


def _check_every_hash(zip_bytes: bytes, store: FilesystemStore, session: Session) -> dict[str, Any]:
    """Open the ZIP, check each manifest item against the archive and each stored one against storage."""
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    assert archive.testzip() is None
    manifest = json.loads(archive.read(MANIFEST))
    names = set(archive.namelist()) - {MANIFEST, INDEX}
    assert {item["path"] for item in manifest["items"]} == names
    index = archive.read(INDEX).decode()
    for item in manifest["items"]:
        data = archive.read(item["path"])
        assert hashlib.sha256(data).hexdigest() == item["sha256"] and len(data) == item["size"], item["path"]
        assert item["sha256"] in index
        if "storage_key" in item:
            with store.open(item["storage_key"]) as reader:
                held = reader.read()
            recorded = session.scalar(
                select(StoredObjectRecord.sha256).where(StoredObjectRecord.key == item["storage_key"])
            )
            assert item["sha256"] == item["recorded_sha256"] == recorded == hashlib.sha256(held).hexdigest()
    return {"archive": archive, "manifest": manifest}


def test_an_incoming_documents_file_has_every_item_with_its_hash(
    app: Any, client: Any, db_session: Session, town: Town
) -> None:
    store: FilesystemStore = app.extensions["polis"].store
    document = register_incoming(
        db_session,
        store,
        letter(
            files=(
                IncomingFile("scan.pdf", SCANNED_LETTER, "application/pdf"),
                IncomingFile("parartima.txt", "Παράρτημα: κατάλογος συμμετεχόντων\n".encode(), "text/plain"),
            ),
            for_action=(town.a.department.id,),
            for_information=(town.c.department.id,),
        ),
        registered_by=town.registrar,
    )
    task = db_session.scalars(
        select(CaseTask).where(CaseTask.department_id == town.a.department.id, CaseTask.role == "head")
    ).one()
    route_to_clerk(db_session, task.task_id, town.a.clerk.id, town.a.head)
    handle = db_session.scalars(select(CaseTask).where(CaseTask.assignee_id == town.a.clerk.id)).one()
    file_document(db_session, handle.task_id, "Ενημερωθήκαμε.", "03.01", town.a.clerk)
    sign_in(client, town.registrar)
    client.get(f"/work/protocol/{document.entry_id}/receipt")  # the receipt exists: it goes in too

    response = client.get(f"/work/documents/{document.id}/case-file.zip")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "application/zip"
    found = _check_every_hash(response.get_data(), store, db_session)
    kinds = [item["kind"] for item in found["manifest"]["items"]]
    assert kinds.count("protocol-file") == 2 and kinds.count("receipt") == 1
    archive = found["archive"]
    assignments = json.loads(archive.read("assignments.json"))
    assert {(a["purpose"], a["state"]) for a in assignments} == {("action", "filed"), ("information", "copy")}
    assert next(a for a in assignments if a["state"] == "filed")["reason"] == "Ενημερωθήκαμε."
    actions = [event["action"] for event in json.loads(archive.read("history.json"))]
    assert actions[0] == "registered" and "filed" in actions
    exported = db_session.scalars(
        select(DocumentEvent).where(
            DocumentEvent.document_id == document.id, DocumentEvent.action == "exported"
        )
    ).all()
    assert [e.actor for e in exported] == [town.registrar.full_name]  # the export is in the history
    (audit_path,) = [name for name in archive.namelist() if name.endswith("/audit.json")]
    chain = json.loads(archive.read(audit_path))
    assert len(chain) >= 3 and all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(chain))
    entries = json.loads(archive.read("protocol/entries.json"))
    assert entries[0]["subject"] == document.entry.subject

    # Someone of an unrelated unit may not export it (the engine says so, not the page).
    sign_in(client, town.x.clerk)
    assert client.get(f"/work/documents/{document.id}/case-file.zip").status_code == 403
    with pytest.raises(CaseFileRestricted):
        case_file_of_document(db_session, document.id, town.x.clerk)


def test_a_request_cases_file_has_its_attachments_entries_and_audit(
    app: Any, client: Any, db_session: Session
) -> None:
    seed_demo_municipality(db_session)
    deploy_directory(db_session)
    store: FilesystemStore = app.extensions["polis"].store
    submission = submit_request(
        db_session,
        store,
        service_code="family_status",
        form=form("family_status"),
        attachments=[upload("id_copy", "tautotita.pdf")],
        applicant=applicant("email"),
    )
    clerk = db_session.scalar(select(User).where(User.username == "ypallilos"))
    sign_in(client, clerk)
    response = client.get(f"/work/cases/{submission.case_id}/case-file.zip")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    found = _check_every_hash(response.get_data(), store, db_session)
    archive = found["archive"]
    case = json.loads(archive.read("case.json"))
    assert case["number"] == submission.case_number
    documents = json.loads(archive.read("documents.json"))
    assert [d["filename"] for d in documents] == ["tautotita.pdf"]
    entries = json.loads(archive.read("protocol/entries.json"))
    assert [e["id"] for e in entries] == [submission.protocol_entry_id]
    audit = json.loads(archive.read("audit.json"))
    assert len(audit) == db_session.query(AuditEvent).filter_by(case_id=uuid.UUID(submission.case_id)).count()
    assert audit and json.loads(archive.read("tasks.json"))  # the request waits on the department

    outsider = db_session.scalar(select(User).where(User.username == "esoda"))
    sign_in(client, outsider)
    assert client.get(f"/work/cases/{submission.case_id}/case-file.zip").status_code == 403


def _stored(store: FilesystemStore, session: Session, data: bytes, name: str) -> StoredPart:
    from storage.records import store_file

    record = store_file(
        session, store, io.BytesIO(data), content_type="application/octet-stream", filename=name
    )
    return StoredPart(
        name, "document:test", record.key, record.sha256, record.size, "application/octet-stream", name
    )


def test_the_archive_is_streamed_in_bounded_pieces(
    object_store: FilesystemStore, db_session: Session
) -> None:
    big = os.urandom(3 * 1024 * 1024)  # incompressible: the pieces are as large as the reads
    plan = CaseFilePlan(title="Δοκιμή", reference="2026/000001")
    plan.parts += [
        _stored(object_store, db_session, big, "big.bin"),
        RecordPart("r.json", "record", {"a": 1}, "r"),
    ]
    pieces = list(stream_case_file(plan, object_store))
    assert len(pieces) > 10 and max(len(piece) for piece in pieces) < 2 * CHUNK_BYTES
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.read("big.bin") == big


def test_a_corrupt_stored_file_breaks_the_export(object_store: FilesystemStore, db_session: Session) -> None:
    part = _stored(object_store, db_session, b"%PDF-1.4 the original", "original.pdf")
    path = object_store.root / "objects" / part.storage_key
    os.chmod(path, 0o644)
    path.write_bytes(b"%PDF-1.4 the forgery!")
    plan = CaseFilePlan(title="Δοκιμή", reference="2026/000002", parts=[part])
    with pytest.raises(IntegrityError):
        b"".join(stream_case_file(plan, object_store))
