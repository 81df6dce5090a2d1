"""ΚΣΗΔΕ/ΙΡΙΔΑ exchange through the file-drop connector: a package (document + metadata, JSON or
XML) becomes a draft with the sender's reference prefilled; the same package delivered twice is
one draft; confirming registers ΕΙΣ (delivery ΚΣΗΔΕ) and the sender is acknowledged with our
number, once; bad packages are held with a reason and nothing is registered; an outgoing ΕΞ
entry is written to the outbox as a package whose metadata carries each file's SHA-256."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from engine.documents.exchange import FileDropExchange, exchange_round, outgoing_package
from engine.documents.mail import confirm_draft, drafts, prefilled
from engine.documents.models import IncomingDocument, MailDraft
from engine.documents.registration import IncomingForm
from engine.protocol.drafts import FileRef
from engine.protocol.entries import register
from engine.protocol.models import ProtocolEntry
from engine.workflow.definitions import deploy_directory
from storage.filesystem import FilesystemStore
from storage.records import store_file
from tests.documents.conftest import SCANNED_LETTER, make_town
from tests.protocol.factories import draft as outgoing_draft


@pytest.fixture
def exchange(fresh_db_url: str, tmp_path: Path) -> Iterator[SimpleNamespace]:
    engine = create_engine(fresh_db_url, pool_size=3)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as session:
        deploy_directory(session)
        town = make_town(session)
    store = FilesystemStore(tmp_path / "objects", secret="s" * 32, base_url="http://polis.test")
    try:
        yield SimpleNamespace(
            factory=factory,
            store=store,
            town=town,
            drop=FileDropExchange(tmp_path / "kside"),
            root=tmp_path / "kside",
        )
    finally:
        engine.dispose()


def drop_package(
    root: Path, folder: str, metadata: bytes | None, files: dict[str, bytes], *, xml: bool = False
) -> None:
    """Write a package the way a sender must: elsewhere first, then renamed into the inbox."""
    staging = root / f".staging-{folder}"
    staging.mkdir(parents=True)
    for name, data in files.items():
        (staging / name).write_bytes(data)
    if metadata is not None:
        (staging / ("metadata.xml" if xml else "metadata.json")).write_bytes(metadata)
    staging.rename(root / "inbox" / folder)


def circular(package_id: str = "KSIDE-2026-000417", **changes: object) -> bytes:
    metadata: dict[str, object] = {
        "package_id": package_id,
        "sender": {"name": "Υπουργείο Εσωτερικών", "code": "YPES"},
        "subject": "Εγκύκλιος για τις δημοτικές εκλογές",
        "sender_reference": "88123/2026",
        "sender_date": "2026-12-02",
        "document_type": "circular",
        "notes": "Παρακαλούμε για την ενημέρωση των υπηρεσιών.",
        "files": [
            {
                "filename": "egkyklios.pdf",
                "sha256": hashlib.sha256(SCANNED_LETTER).hexdigest(),
                "content_type": "application/pdf",
            }
        ],
    }
    metadata.update(changes)
    return json.dumps(metadata, ensure_ascii=False).encode()


def test_a_package_becomes_a_draft_registers_once_and_is_acknowledged_once(exchange: SimpleNamespace) -> None:
    drop_package(exchange.root, "p1", circular(), {"egkyklios.pdf": SCANNED_LETTER})
    report = exchange_round(exchange.factory, exchange.store, exchange.drop)
    assert (report.drafts, report.held, report.duplicates, report.acknowledged) == (1, 0, 0, 0)
    assert not (exchange.root / "inbox" / "p1").exists() and (exchange.root / "taken" / "p1").is_dir()
    # The exchange delivers the same package again (under another folder name): one draft.
    drop_package(exchange.root, "p1-again", circular(), {"egkyklios.pdf": SCANNED_LETTER})
    assert exchange_round(exchange.factory, exchange.store, exchange.drop).duplicates == 1

    with exchange.factory.begin() as session:
        (draft,) = drafts(session)
        assert draft.channel == "kside" and len(draft.raw_sha256) == 64
        assert [a["filename"] for a in draft.attachments] == ["egkyklios.pdf"]
        form = prefilled(draft)
        assert form == {
            "sender": "Υπουργείο Εσωτερικών",
            "subject": "Εγκύκλιος για τις δημοτικές εκλογές",
            "delivery_method": "kside",
            "sender_reference": "88123/2026",
            "sender_date": "2026-12-02",
            "document_type": "circular",
        }
        draft_id = draft.id
    confirmed = IncomingForm(
        subject=form["subject"],
        sender=form["sender"],
        sender_reference=form["sender_reference"],
        sender_date=date.fromisoformat(form["sender_date"]),
        document_type="circular",
        for_information=(exchange.town.a.department.id,),
    )
    for _ in range(2):  # confirmed twice: registered once
        with exchange.factory.begin() as session:
            confirm_draft(
                session,
                exchange.store,
                draft_id,
                confirmed,
                confirmed_by=session.merge(exchange.town.registrar),
            )
    with exchange.factory.begin() as session:
        (entry,) = session.scalars(select(ProtocolEntry)).all()
        assert entry.delivery_method == "kside" and entry.sender_reference == "88123/2026"
        assert [f.filename for f in entry.files] == ["metadata.json", "egkyklios.pdf"]
        assert session.scalar(select(IncomingDocument.source)) == "kside"
        number = entry.display_number

    assert exchange_round(exchange.factory, exchange.store, exchange.drop).acknowledged == 1
    ack = json.loads((exchange.root / "acks" / "KSIDE-2026-000417.json").read_text("utf-8"))
    assert ack["package_id"] == "KSIDE-2026-000417" and ack["protocol_number"] == number
    assert exchange_round(exchange.factory, exchange.store, exchange.drop).acknowledged == 0


def test_an_xml_package_with_a_namespace_is_read_too(exchange: SimpleNamespace) -> None:
    digest = hashlib.sha256(SCANNED_LETTER).hexdigest()
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="urn:example:kside">
  <package_id>KSIDE-XML-1</package_id>
  <sender code="PKR"><name>Περιφέρεια Κρήτης</name></sender>
  <subject>Πρόσκληση σε σύσκεψη</subject>
  <sender_reference>4521/2026</sender_reference>
  <sender_date>2026-12-01</sender_date>
  <files><file filename="prosklisi.pdf" sha256="{digest}" content_type="application/pdf"/></files>
</package>""".encode()
    drop_package(exchange.root, "x1", xml, {"prosklisi.pdf": SCANNED_LETTER}, xml=True)
    assert exchange_round(exchange.factory, exchange.store, exchange.drop).drafts == 1
    with exchange.factory.begin() as session:
        (draft,) = drafts(session)
        assert (draft.sender, draft.subject) == ("Περιφέρεια Κρήτης", "Πρόσκληση σε σύσκεψη")
        assert draft.details["sender_code"] == "PKR" and draft.details["metadata_file"] == "metadata.xml"


def test_bad_packages_are_held_with_a_reason_and_nothing_is_registered(exchange: SimpleNamespace) -> None:
    good = {"egkyklios.pdf": SCANNED_LETTER}
    drop_package(exchange.root, "no-metadata", None, good)
    drop_package(exchange.root, "not-json", b"{broken", good)
    drop_package(exchange.root, "bad-hash", circular("B1"), {"egkyklios.pdf": SCANNED_LETTER + b"tampered"})
    drop_package(exchange.root, "missing-file", circular("B2"), {})
    drop_package(
        exchange.root,
        "program",
        circular("B3", files=[{"filename": "egkyklios.pdf"}]),
        {"egkyklios.pdf": b"MZ\x90\x00" + b"\0" * 500},
    )
    drop_package(exchange.root, "unlisted", circular("B4"), {**good, "extra.exe": b"MZ"})
    drop_package(exchange.root, "no-subject", circular("B5", subject=""), good)
    drop_package(
        exchange.root,
        "huge",
        circular("B6", files=[{"filename": "scan.pdf"}]),
        {"scan.pdf": b"%PDF-1.4\n" + b"0" * (26 * 1024 * 1024)},
    )
    entity = b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><package><subject>&x;</subject></package>'
    drop_package(exchange.root, "xxe", entity, good, xml=True)
    report = exchange_round(exchange.factory, exchange.store, exchange.drop)
    assert (report.drafts, report.held) == (0, 9)
    with exchange.factory.begin() as session:
        held = {d.details["package_id"]: d.hold_reason for d in drafts(session, status="held")}
        assert all(len(d.raw_sha256) == 64 for d in drafts(session, status="held"))
        assert session.scalar(select(func.count()).select_from(ProtocolEntry)) == 0
    assert "no metadata" in held["no-metadata"]
    assert "not valid JSON" in held["not-json"]
    assert "SHA-256 is not the one" in held["B1"]
    assert "not in the package" in held["B2"]
    assert "a program" in held["B3"]
    assert "not listed" in held["B4"]
    assert "no subject" in held["B5"]
    assert "DOCTYPE" in held["xxe"]
    assert "larger than the 25 MB" in held["B6"]
    # A held package is kept once, too.
    shutil.copytree(exchange.root / "taken" / "bad-hash", exchange.root / "inbox" / "bad-hash-again")
    assert exchange_round(exchange.factory, exchange.store, exchange.drop).duplicates == 1
    with exchange.factory.begin() as session:
        assert session.scalar(select(func.count()).select_from(MailDraft)) == 9


def test_an_outgoing_entry_is_written_to_the_outbox_as_a_package(exchange: SimpleNamespace) -> None:
    with exchange.factory.begin() as session:
        registrar = session.merge(exchange.town.registrar)
        record = store_file(
            session, exchange.store, io.BytesIO(SCANNED_LETTER), content_type="application/pdf"
        )
        entry = register(
            session,
            outgoing_draft(
                subject="Απάντηση στην εγκύκλιο",
                recipients=("Υπουργείο Εσωτερικών",),
                files=(FileRef(record.key, record.sha256, "apantisi.pdf", record.size, "application/pdf"),),
            ),
            registered_by=registrar,
        )
        package = outgoing_package(
            session, exchange.store, entry.id, [{"code": "YPES", "name": "Υπουργείο Εσωτερικών"}], registrar
        )
        number = entry.display_number
    sent = exchange.drop.send(package)
    folder = exchange.root / "outbox" / sent
    metadata = json.loads((folder / "metadata.json").read_text("utf-8"))
    assert metadata["protocol_number"] == number and metadata["recipients"][0]["code"] == "YPES"
    (item,) = metadata["files"]
    assert (
        hashlib.sha256((folder / item["filename"]).read_bytes()).hexdigest()
        == item["sha256"]
        == record.sha256
    )
