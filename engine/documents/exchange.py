"""Documents exchanged with other public bodies (ΚΣΗΔΕ / ΙΡΙΔΑ), behind an interface.

A connector (:class:`ExchangeConnector`) delivers incoming packages — a document's files with
its metadata — and takes outgoing ones. Incoming packages become drafts in the protocol
office's mailbox, exactly like email: the office checks and confirms them, which registers
them ΕΙΣ (delivery method ΚΣΗΔΕ); the same package delivered twice is one draft; a package
that cannot be trusted (unreadable metadata, a listed file missing or with another hash, a
program, a zip bomb, no document at all) is held for a person with the reason. Once
registered, the sender is acknowledged with our protocol number (at least once).

:class:`FileDropExchange` is the implementation for tests and for sites that receive packages
through a shared folder; what a connector to the real ΚΣΗΔΕ needs is in the README.

Package metadata (``metadata.json``, or ``metadata.xml`` with the same names as elements)::

    {"package_id": "…", "sender": {"name": "Περιφέρεια Κρήτης", "code": "…"},
     "subject": "…", "sender_reference": "4521/2026", "sender_date": "2026-12-01",
     "document_type": "letter", "classification": null, "notes": "…",
     "files": [{"filename": "egkyklios.pdf", "sha256": "…", "content_type": "application/pdf"}]}
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from lxml import etree
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ATHENS, utcnow
from engine.documents.errors import DocumentRestricted
from engine.documents.mail import MAX_ATTACHMENT_BYTES, Part, hold_reason, keep_part
from engine.documents.models import IncomingDocument, MailDraft
from engine.people.models import User
from engine.protocol.entries import get_entry
from engine.protocol.models import ProtocolEntry
from engine.protocol.visibility import may_see_entry
from engine.workflow.bpmn.safe_xml import parse_xml
from engine.workflow.errors import UnsafeXmlError
from storage import ObjectStore
from storage.records import store_file

log = logging.getLogger(__name__)

METADATA_NAMES = ("metadata.json", "metadata.xml")
#: Largest metadata file read (a package's metadata is a few KB).
MAX_METADATA_BYTES = 1024 * 1024
#: Text fields taken from the metadata, with their longest length.
_TEXT_FIELDS = {
    "subject": 1000,
    "sender_reference": 200,
    "document_type": 64,
    "classification": 3,
    "notes": 20_000,
}


@dataclass(frozen=True)
class ReceivedPackage:
    """An incoming package as the connector delivered it: the metadata file and the files."""

    package_id: str
    metadata_name: str
    metadata: bytes
    files: dict[str, bytes] = field(repr=False)


@dataclass(frozen=True)
class OutgoingFile:
    """A file of an outgoing package, with its SHA-256."""

    filename: str
    data: bytes = field(repr=False)
    content_type: str
    sha256: str


@dataclass(frozen=True)
class OutgoingPackage:
    """A registered ΕΞ document on its way to another body."""

    package_id: str
    recipients: tuple[dict[str, str], ...]
    subject: str
    protocol_number: str
    registered_at: str
    files: tuple[OutgoingFile, ...]
    related: tuple[str, ...] = ()

    def metadata(self) -> dict[str, Any]:
        """The package's metadata, as the exchange carries it beside the files."""
        return {
            "package_id": self.package_id,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "protocol_number": self.protocol_number,
            "registered_at": self.registered_at,
            "related": list(self.related),
            "files": [
                {"filename": f.filename, "sha256": f.sha256, "content_type": f.content_type}
                for f in self.files
            ],
        }


class ExchangeConnector(Protocol):
    """What Polis needs from the exchange between public bodies."""

    def incoming(self) -> Iterator[ReceivedPackage]:
        """The packages waiting for us, oldest first."""
        ...

    def taken(self, package_id: str) -> None:
        """The package is kept (committed) on our side: the exchange may forget it."""
        ...

    def acknowledge(self, package_id: str, receipt: dict[str, str]) -> None:
        """Tell the sender the package was registered, with our protocol number and time."""
        ...

    def send(self, package: OutgoingPackage) -> str:
        """Hand an outgoing package to the exchange; returns the exchange's id for it."""
        ...


class FileDropExchange:
    """The exchange as a folder: packages appear in ``inbox/<id>/`` (metadata file + the files,
    moved in whole by the sender: write elsewhere, then rename), are moved to ``taken/`` once
    kept; acknowledgements are written to ``acks/<id>.json``, outgoing packages to
    ``outbox/<id>/`` the same way incoming ones arrive."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in ("inbox", "taken", "acks", "outbox"):
            (root / name).mkdir(parents=True, exist_ok=True)

    def incoming(self) -> Iterator[ReceivedPackage]:
        """Every package folder of the inbox, oldest first."""
        folders = sorted(
            (p for p in (self.root / "inbox").iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime
        )
        for folder in folders:
            names = [name for name in METADATA_NAMES if (folder / name).is_file()]
            metadata_name = names[0] if names else ""
            metadata = (folder / metadata_name).read_bytes()[: MAX_METADATA_BYTES + 1] if names else b""
            files = {
                p.name: _read_at_most(p, MAX_ATTACHMENT_BYTES + 1)  # more is refused anyway
                for p in sorted(folder.iterdir())
                if p.is_file() and not p.is_symlink() and p.name not in METADATA_NAMES
            }
            yield ReceivedPackage(folder.name, metadata_name, metadata, files)

    def taken(self, package_id: str) -> None:
        """Move the package out of the inbox (a second copy of a taken one replaces the first)."""
        source = self.root / "inbox" / package_id
        target = self.root / "taken" / package_id
        if target.exists():
            shutil.rmtree(target)
        if source.exists():
            source.rename(target)

    def acknowledge(self, package_id: str, receipt: dict[str, str]) -> None:
        """Write the acknowledgement (atomically: temp file, then rename)."""
        target = self.root / "acks" / f"{_safe_id(package_id)}.json"
        temp = target.with_suffix(".part")
        temp.write_text(
            json.dumps({"package_id": package_id, **receipt}, ensure_ascii=False, indent=2), "utf-8"
        )
        temp.replace(target)

    def send(self, package: OutgoingPackage) -> str:
        """Write the package to ``outbox/`` whole: into a temporary folder, then renamed."""
        final = self.root / "outbox" / _safe_id(package.package_id)
        temp = self.root / "outbox" / f".{_safe_id(package.package_id)}.part"
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir()
        for f in package.files:
            (temp / _safe_name(f.filename)).write_bytes(f.data)
        (temp / "metadata.json").write_text(
            json.dumps(package.metadata(), ensure_ascii=False, indent=2), "utf-8"
        )
        if final.exists():
            shutil.rmtree(final)
        temp.rename(final)
        return package.package_id


def _read_at_most(path: Path, limit: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(limit)


def _safe_id(package_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in package_id).strip(".")[:200] or "package"


def _safe_name(name: str) -> str:
    return Path(name).name.strip(". ") or "file"


class PackageProblem(Exception):
    """Why a package cannot become a draft as it is."""


def _read_metadata(package: ReceivedPackage) -> dict[str, Any]:
    """The metadata as a dict, from JSON or (safely parsed) XML."""
    if not package.metadata_name:
        raise PackageProblem("no metadata.json or metadata.xml in the package")
    if len(package.metadata) > MAX_METADATA_BYTES:
        raise PackageProblem(f"the metadata file is larger than {MAX_METADATA_BYTES // 1024} KB")
    if package.metadata_name.endswith(".json"):
        try:
            found = json.loads(package.metadata.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PackageProblem(f"metadata.json is not valid JSON ({exc})") from None
        if not isinstance(found, dict):
            raise PackageProblem("metadata.json must be an object")
        return found
    try:
        root = parse_xml(package.metadata, "metadata.xml").getroot()
    except UnsafeXmlError as exc:
        raise PackageProblem(f"metadata.xml is refused: {exc}") from None
    data: dict[str, Any] = {}
    for child in root:
        if not isinstance(child.tag, str):  # comments, processing instructions
            continue
        name = etree.QName(child).localname
        if name == "sender":
            names = [c for c in child if isinstance(c.tag, str) and etree.QName(c).localname == "name"]
            data["sender"] = {
                "name": ((names[0].text if names else child.text) or "").strip(),
                "code": child.get("code", ""),
            }
        elif name == "files":
            data["files"] = [dict(item.attrib) for item in child if isinstance(item.tag, str)]
        else:
            data[name] = (child.text or "").strip()
    return data


def _checked(metadata: dict[str, Any], package: ReceivedPackage) -> tuple[dict[str, Any], list[Part]]:
    """The fields a draft keeps and the files, or the problem that holds the package."""
    details: dict[str, Any] = {}
    for name, longest in _TEXT_FIELDS.items():
        value = metadata.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or len(value) > longest or "\x00" in value:
            raise PackageProblem(f"{name}: text of at most {longest} characters expected")
        details[name] = value.strip()
    if not details.get("subject"):
        raise PackageProblem("the metadata gives no subject")
    sender = metadata.get("sender")
    sender_name = sender.get("name") if isinstance(sender, dict) else sender
    if not isinstance(sender_name, str) or not sender_name.strip() or len(sender_name) > 500:
        raise PackageProblem("the metadata gives no sender name")
    details["sender"] = sender_name.strip()
    if isinstance(sender, dict) and isinstance(sender.get("code"), str):
        details["sender_code"] = sender["code"][:64]
    if metadata.get("sender_date"):
        try:
            details["sender_date"] = date.fromisoformat(str(metadata["sender_date"])).isoformat()
        except ValueError:
            raise PackageProblem("sender_date must be a date written YYYY-MM-DD") from None
    listed = metadata.get("files")
    if not isinstance(listed, list) or not listed or not all(isinstance(item, dict) for item in listed):
        raise PackageProblem("the metadata lists no files: a package carries at least the document")
    parts = []
    for item in listed:
        filename = str(item.get("filename") or "")
        if filename not in package.files:
            raise PackageProblem(f"{filename or '(no name)'}: listed in the metadata but not in the package")
        data = package.files[filename]
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise PackageProblem(
                f"{filename}: larger than the {MAX_ATTACHMENT_BYTES // 1048576} MB a file may have"
            )
        expected = str(item.get("sha256") or "").lower()
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise PackageProblem(
                f"{filename}: its SHA-256 is not the one the metadata gives (damaged in transit?)"
            )
        parts.append(Part(filename, str(item.get("content_type") or "application/octet-stream"), data))
    unlisted = sorted(set(package.files) - {str(item.get("filename")) for item in listed})
    if unlisted:
        raise PackageProblem(f"files not listed in the metadata: {', '.join(unlisted[:5])}")
    if problem := hold_reason(parts):
        raise PackageProblem(problem)
    return details, parts


def accept_package(session: Session, store: ObjectStore, package: ReceivedPackage) -> tuple[MailDraft, bool]:
    """Keep one package as a draft (or held, with the reason); returns it and whether it is new.

    The package id is the duplicate key (a second delivery returns the first draft, stores
    nothing); the metadata file is kept as the draft's raw content, its SHA-256 recorded.
    """
    try:
        metadata: dict[str, Any] | None = _read_metadata(package)
        problem = None
    except PackageProblem as exc:
        metadata, problem = None, str(exc)
    package_id = str((metadata or {}).get("package_id") or package.package_id)[:900]
    key = f"kside:{package_id}"
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"mail:{key}"})
    earlier = session.scalars(select(MailDraft).where(MailDraft.message_id == key)).one_or_none()
    if earlier is not None:
        return earlier, False
    raw = package.metadata or b"{}"
    record = store_file(
        session,
        store,
        io.BytesIO(raw),
        content_type="application/xml" if package.metadata_name.endswith(".xml") else "application/json",
        filename=package.metadata_name or "metadata.json",
    )
    draft = MailDraft(
        id=uuid.uuid4(),
        message_id=key,
        received_at=utcnow(),
        channel="kside",
        envelope_from=None,
        raw_key=record.key,
        raw_sha256=record.sha256,
        raw_size=record.size,
        attachments=[],
        details={"package_id": package_id, "metadata_file": package.metadata_name or "metadata.json"},
    )
    parts: list[Part] = []
    if metadata is not None:
        try:
            details, parts = _checked(metadata, package)
        except PackageProblem as exc:
            problem = str(exc)
            sender = metadata.get("sender")
            draft.sender = str(sender.get("name") if isinstance(sender, dict) else sender or "")[:500] or None
            draft.subject = str(metadata.get("subject") or "")[:1000] or None
        else:
            draft.details = {**draft.details, **details}
            draft.sender, draft.subject = details["sender"], details["subject"]
            draft.body_text = details.get("notes")
    if problem is None:
        draft.attachments = [keep_part(session, store, part) for part in parts]
    draft.status = "held" if problem else "draft"
    draft.hold_reason = f"ΚΣΗΔΕ package {package_id}: {problem}" if problem else None
    session.add(draft)
    session.flush()
    return draft, True


@dataclass(frozen=True)
class RoundReport:
    """What one exchange round did."""

    drafts: int = 0
    held: int = 0
    duplicates: int = 0
    acknowledged: int = 0
    failed: tuple[str, ...] = ()


def exchange_round(
    factory: sessionmaker[Session], store: ObjectStore, connector: ExchangeConnector
) -> RoundReport:
    """Take in every waiting package (each in its own transaction, then told to the exchange)
    and acknowledge every registered one not yet acknowledged."""
    drafts = held = duplicates = 0
    failed: list[str] = []
    for package in connector.incoming():
        try:
            with factory.begin() as session:
                draft, new = accept_package(session, store, package)
                status = draft.status
        except Exception:  # one bad package must not stop the others; it stays in the inbox
            log.exception("could not keep exchange package %s", package.package_id)
            failed.append(package.package_id)
            continue
        connector.taken(package.package_id)
        if not new:
            duplicates += 1
        elif status == "held":
            held += 1
        else:
            drafts += 1
    return RoundReport(drafts, held, duplicates, acknowledge_registered(factory, connector), tuple(failed))


def acknowledge_registered(factory: sessionmaker[Session], connector: ExchangeConnector) -> int:
    """Send the acknowledgement of every registered package not yet acknowledged (at least once:
    if the process stops between sending and recording, the next round sends it again)."""
    with factory.begin() as session:
        waiting = session.execute(
            select(MailDraft.id, MailDraft.details, ProtocolEntry)
            .join(IncomingDocument, IncomingDocument.id == MailDraft.document_id)
            .join(ProtocolEntry, ProtocolEntry.id == IncomingDocument.entry_id)
            .where(
                MailDraft.channel == "kside",
                MailDraft.status == "registered",
                MailDraft.acknowledged_at.is_(None),
            )
            .order_by(MailDraft.received_at)
        ).all()
        receipts = [
            (
                draft_id,
                str(details.get("package_id")),
                {
                    "protocol_number": entry.display_number,
                    "registered_at": entry.registered_at.isoformat(),
                    "registered_at_athens": entry.registered_at.astimezone(ATHENS).strftime(
                        "%d/%m/%Y %H:%M:%S"
                    ),
                },
            )
            for draft_id, details, entry in waiting
        ]
    done = 0
    for draft_id, package_id, receipt in receipts:
        connector.acknowledge(package_id, receipt)
        with factory.begin() as session:
            draft = session.get(MailDraft, draft_id)
            if draft is not None:
                draft.acknowledged_at = utcnow()
        done += 1
    return done


def outgoing_package(
    session: Session,
    store: ObjectStore,
    entry_id: uuid.UUID,
    recipients: Sequence[dict[str, str]],
    sender: User,
) -> OutgoingPackage:
    """A registered ΕΞ entry the sender may read, with its files, as a package for the exchange."""
    entry = get_entry(session, entry_id, sender)
    if not may_see_entry(session, entry, sender):
        raise DocumentRestricted("This entry belongs to other units; only they send it.")
    if entry.direction != "ΕΞ" or entry.is_cancelled:
        raise DocumentRestricted(f"Entry {entry.display_number} is not a valid outgoing document to send.")
    files = []
    for f in entry.files:
        with store.open(f.storage_key, expected_sha256=f.sha256) as reader:
            data = reader.read()
        files.append(OutgoingFile(f.filename, data, f.content_type, f.sha256))
    return OutgoingPackage(
        package_id=f"{entry.book.code}-{entry.year}-{entry.number}",
        recipients=tuple(recipients),
        subject=entry.subject,
        protocol_number=entry.display_number,
        registered_at=entry.registered_at.isoformat(),
        files=tuple(files),
    )
