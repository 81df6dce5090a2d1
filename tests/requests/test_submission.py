"""Submitting a request: protocol ΕΙΣ, the case, its files and the notice, all or nothing."""

from __future__ import annotations

import io
import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.notifications.models import Notification
from engine.people.models import User
from engine.protocol.models import EntryFile, ProtocolEntry
from engine.requests import IdempotencyKeyReused, SubmissionInvalid, submit_request
from engine.requests.files import FileRejected, case_files, sniff
from engine.requests.models import RequestSubmission
from engine.requests.scanning import ClamdScanner, ScannerUnavailable
from engine.workflow.models import Case
from engine.workflow.task_index import department_queue
from forms.catalogue import UnknownService
from storage.filesystem import FilesystemStore
from tests.requests.conftest import EXE_BYTES, PNG_BYTES, applicant, form, required_uploads, upload


def _counts(session: Session) -> tuple[int, int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(Case)) or 0,
        session.scalar(select(func.count()).select_from(ProtocolEntry)) or 0,
        session.scalar(select(func.count()).select_from(Notification)) or 0,
        session.scalar(select(func.count()).select_from(RequestSubmission)) or 0,
    )


def _submit(session: Session, store: FilesystemStore, settings: Settings, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "service_code": "family_status",
        "form": form("family_status"),
        "attachments": required_uploads("family_status"),
        "applicant": applicant(),
        "settings": settings,
    }
    values.update(overrides)
    return submit_request(session, store, **values)


def test_a_submission_registers_starts_stores_and_notifies(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings
) -> None:
    result = _submit(municipality, object_store, test_settings, applicant=applicant("both"))

    case = municipality.scalars(select(Case).where(Case.number == result.case_number)).one()
    assert case.tracking_code == result.tracking_code and len(result.tracking_code) >= 32
    assert case.applicant["email"] == "eleni@example.gr" and case.applicant["phone"] == "6912345678"
    assert case.data["service_code"] == "family_status"
    assert case.data["protocol_in"]["display"] == result.protocol_number
    assert result.tracking_url == f"http://polis.test/track/{result.tracking_code}"

    entry = municipality.get(ProtocolEntry, case.data["protocol_in"]["entry_id"])
    assert entry is not None and entry.direction == "ΕΙΣ" and entry.case_id == case.id
    assert entry.case_number == case.number and entry.sender == "Ελένη Παπαδοπούλου"
    files = case_files(municipality, case.id)
    assert [f.kind for f in files] == ["attachment"]
    entry_files = municipality.scalars(select(EntryFile).where(EntryFile.entry_id == entry.id)).all()
    assert [f.sha256 for f in entry_files] == [files[0].sha256]
    with object_store.open(files[0].object_key, expected_sha256=files[0].sha256) as reader:
        assert reader.read().startswith(b"%PDF-")
    assert case.data["attachments"][0]["id"] == str(files[0].id)

    notices = municipality.scalars(select(Notification).where(Notification.case_id == case.id)).all()
    assert sorted(n.channel for n in notices) == ["email", "sms"]
    email = next(n for n in notices if n.channel == "email")
    assert result.case_number in email.body_text and result.tracking_url in email.body_text

    clerk = municipality.scalars(select(User).where(User.username == "ypallilos")).one()
    assert [item.case_number for item in department_queue(municipality, clerk)] == [result.case_number]


def test_a_retried_submit_returns_the_first_answer(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings
) -> None:
    first = _submit(municipality, object_store, test_settings, idempotency_key="key-0001-abcdef")
    before = _counts(municipality)
    again = _submit(municipality, object_store, test_settings, idempotency_key="key-0001-abcdef")
    assert again.replayed and not first.replayed
    assert again.as_dict() == first.as_dict()
    assert _counts(municipality) == before

    other_form = form("family_status") | {"city": "Ρέθυμνο"}
    with pytest.raises(IdempotencyKeyReused, match="different request"):
        _submit(municipality, object_store, test_settings, idempotency_key="key-0001-abcdef", form=other_form)
    with pytest.raises(Exception, match="Idempotency-Key"):
        _submit(municipality, object_store, test_settings, idempotency_key="short")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"form": {"first_name": "Ε"}}, "last_name"),
        ({"attachments": []}, "attachments.id_copy"),
        ({"attachments": [upload("id_copy", "id.pdf", EXE_BYTES)]}, "attachments[0]"),
        ({"attachments": [upload("id_copy", "../../etc/passwd.pdf")]}, "attachments[0]"),
        ({"attachments": [upload("id_copy", "id.pdf", b"")]}, "attachments[0]"),
        ({"attachments": [upload("selfie", "me.png", PNG_BYTES)]}, "attachments[0]"),
        ({"applicant": applicant("sms", phone=None)}, "applicant.phone"),
        ({"applicant": applicant("email", email="not-an-email")}, "applicant.email"),
        ({"applicant": applicant(name=" ")}, "applicant.name"),
    ],
    ids=[
        "form",
        "missing-attachment",
        "exe-renamed-pdf",
        "path-in-name",
        "empty-file",
        "unknown-kind",
        "sms-without-phone",
        "bad-email",
        "no-name",
    ],
)
def test_bad_submissions_are_refused_and_store_nothing(
    municipality: Session,
    object_store: FilesystemStore,
    test_settings: Settings,
    overrides: dict[str, Any],
    field: str,
) -> None:
    before = _counts(municipality)
    with pytest.raises(SubmissionInvalid) as refused:
        _submit(municipality, object_store, test_settings, **overrides)
    fields = [e["field"] for e in refused.value.details["errors"]]
    assert any(f.startswith(field) for f in fields), fields
    assert all(e["el"] and e["en"] for e in refused.value.details["errors"])
    assert _counts(municipality) == before


def test_an_unknown_service_is_refused(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings
) -> None:
    with pytest.raises(UnknownService):
        _submit(municipality, object_store, test_settings, service_code="no_such_service")


def test_sniffing_trusts_bytes_not_names() -> None:
    assert sniff(EXE_BYTES) == "application/x-msdownload"
    assert sniff(b"\x7fELF\x02\x01") == "application/x-executable"
    assert sniff(PNG_BYTES) == "image/png"
    assert sniff(b"\xff\xd8\xff\xe0JFIF") == "image/jpeg"
    assert sniff(b"%PDF-1.7\n") == "application/pdf"
    # Readers accept the header anywhere in the first KiB; we do not (HTML/PDF polyglots).
    assert sniff(b"\n\n%PDF-1.7\n") == "application/octet-stream"
    assert sniff(b"<html><!-- %PDF-1.7 --><script>x()</script></html>") == "application/octet-stream"
    assert sniff(b"<html>") == "application/octet-stream"


# The virus-scan hook, against a loopback server speaking clamd's INSTREAM protocol -------


@pytest.fixture
def clamd() -> Iterator[tuple[str, list[bytes]]]:
    """A clamd stand-in: reports FOUND for files containing the EICAR marker.

    A socketserver, shut down and joined at teardown: a bare ``accept()`` left blocking in a
    thread keeps the old descriptor number, and once that number is reused by another test's
    listening socket it steals that test's connections.
    """
    received: list[bytes] = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn = self.request
            command = b""
            while not command.endswith(b"\0"):
                byte = conn.recv(1)
                if not byte:
                    return
                command += byte
            data = b""
            while True:
                size = struct.unpack(">I", _exact(conn, 4))[0]
                if size == 0:
                    break
                data += _exact(conn, size)
            received.append(data)
            infected = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE" in data
            conn.sendall(b"stream: Eicar-Signature FOUND\0" if infected else b"stream: OK\0")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = conn.recv(size - len(data))
        if not part:
            raise ConnectionError("closed")
        data += part
    return data


def test_the_virus_scan_hook_refuses_infected_files(
    municipality: Session,
    object_store: FilesystemStore,
    test_settings: Settings,
    clamd: tuple[str, list[bytes]],
) -> None:
    address, received = clamd
    scanner = ClamdScanner(address)
    clean = _submit(municipality, object_store, test_settings, scanner=scanner)
    assert clean.case_number and received and received[0].startswith(b"%PDF-")

    before = _counts(municipality)
    infected = io.BytesIO(
        b"%PDF-1.4\nX5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\n%%EOF\n"
    )
    bad = [upload("id_copy")]
    bad = [type(bad[0])("id_copy", "id.pdf", infected)]
    with pytest.raises(FileRejected, match="virus check"):
        _submit(municipality, object_store, test_settings, scanner=scanner, attachments=bad)
    assert _counts(municipality) == before


def test_an_unreachable_scanner_stops_the_submission(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(ScannerUnavailable, match="does not answer"):
        _submit(
            municipality, object_store, test_settings, scanner=ClamdScanner(f"127.0.0.1:{port}", timeout=2)
        )


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><!-- %PDF-1.7 --><html><script>alert(1)</script></html>\n%%EOF\n",
        b"%PDF-1.7\n<html><script>alert(1)</script></html>\n",  # no PDF trailer: not a PDF
    ],
    ids=["pdf-header-not-at-offset-0", "no-pdf-trailer"],
)
def test_a_polyglot_is_not_accepted_as_a_pdf(
    municipality: Session, object_store: FilesystemStore, test_settings: Settings, data: bytes
) -> None:
    before = _counts(municipality)
    bad = [upload("id_copy", "id.pdf", data)]
    with pytest.raises((FileRejected, SubmissionInvalid), match=r"(?i)pdf|type"):
        _submit(municipality, object_store, test_settings, attachments=bad)
    assert _counts(municipality) == before
