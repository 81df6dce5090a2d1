"""What a case file holds: the parts of a request case or of an incoming document, collected
after the visibility check, as stored objects (read later, streamed) and small JSON records.

A request case: its files (the applicant's attachments, supplied documents, every draft and
the sealed certificate — the versions — with their issued-document status), its protocol
entries with their files and receipts, its open tasks, its hash-chained audit events.

An incoming document: its protocol entry (and every ορθή επανάληψη of it) with files and
receipts, its assignments (χρέωση) with their state and reasons, its history, and for each
for-action assignment the audit events and open tasks of the incoming_document case.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.archive.errors import CaseFileNotFound, CaseFileRestricted
from engine.documents.history import record_event
from engine.documents.models import DocumentAssignment, DocumentEvent, IncomingDocument
from engine.issuing.registry import IssuedDocument
from engine.people.models import Department, User
from engine.people.visibility import CaseForbidden, check_case_visible
from engine.protocol.entries import describe, describe_restricted, may_see
from engine.protocol.models import EntryAssignment, EntryRelation, ProtocolEntry
from engine.protocol.visibility import may_see_entry, visible_entry_ids
from engine.requests.models import CaseFile as RequestFile
from engine.workflow.models import AuditEvent, Case, CaseTask
from storage.models import StoredObjectRecord


@dataclass(frozen=True)
class StoredPart:
    """A stored object to put in the ZIP, with the SHA-256 recorded when it was stored."""

    path: str
    kind: str
    storage_key: str
    sha256: str
    size: int
    content_type: str
    description: str
    version_id: str | None = None


@dataclass(frozen=True)
class RecordPart:
    """A JSON record written into the ZIP (what the database says about the case)."""

    path: str
    kind: str
    data: Any
    description: str


@dataclass
class CaseFilePlan:
    """Everything that goes into one case file, in order."""

    title: str
    reference: str
    parts: list[StoredPart | RecordPart] = field(default_factory=list)

    @property
    def filename(self) -> str:
        """The ZIP's file name, e.g. ``fakelos-2026-000123.zip``."""
        return "fakelos-" + re.sub(r"[^A-Za-z0-9]+", "-", self.reference).strip("-") + ".zip"


_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_name(name: str) -> str:
    """A file name that is a name, never a path (no slashes, no dots leading up)."""
    cleaned = _UNSAFE.sub("_", name).strip(" .") or "file"
    return cleaned[:120]


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def case_file_of_case(session: Session, case_id: uuid.UUID, viewer: User) -> CaseFilePlan:
    """The case file of a request (or any process) case the viewer may see."""
    case = session.get(Case, case_id)
    if case is None:
        raise CaseFileNotFound("No such case; check the link.")
    try:
        check_case_visible(session, viewer, case)
    except CaseForbidden as exc:
        raise CaseFileRestricted(
            f"Case {case.number} belongs to another department; only those who may see it export its file."
        ) from exc
    plan = CaseFilePlan(title=f"Φάκελος υπόθεσης {case.number}", reference=case.number)
    plan.parts.append(
        RecordPart(
            "case.json",
            "record",
            {
                "id": str(case.id),
                "number": case.number,
                "process": case.process_id,
                "status": case.status,
                "milestone": case.milestone,
                "department": _unit_name(session, case.department_id),
                "applicant": case.applicant,
                "data": case.data,
                "created_at": _stamp(case.created_at),
                "closed_at": _stamp(case.closed_at),
                "due_at": _stamp(case.due_at),
            },
            "Η υπόθεση: στοιχεία, αιτών, δεδομένα φόρμας",
        )
    )
    _request_files(session, case, plan)
    entries = list(
        session.scalars(
            select(ProtocolEntry)
            .where(ProtocolEntry.case_id == case.id)
            .order_by(ProtocolEntry.registered_at, ProtocolEntry.id)
        )
    )
    _entries(session, viewer, entries, plan)
    _case_trail(session, case, plan, prefix="")
    return plan


def _request_files(session: Session, case: Case, plan: CaseFilePlan) -> None:
    files = list(
        session.scalars(
            select(RequestFile)
            .where(RequestFile.case_id == case.id)
            .order_by(RequestFile.created_at, RequestFile.id)
        )
    )
    issued = {
        doc.storage_key: doc
        for doc in session.scalars(
            select(IssuedDocument).where(IssuedDocument.storage_key.in_([f.object_key for f in files]))
        )
    }
    versions = {f.object_key: _version_id(session, f.object_key) for f in files}
    listing = []
    for number, f in enumerate(files, start=1):
        path = f"documents/{number:02d}-{f.kind}-{safe_name(f.filename)}"
        doc = issued.get(f.object_key)
        words = {
            "attachment": "Συνημμένο του αιτούντος",
            "supplied": "Έγγραφο που προσκόμισε ο αιτών",
            "draft": "Σχέδιο (έκδοση πριν τη σφράγιση)",
            "certificate": "Εκδοθέν έγγραφο (σφραγισμένο)",
            "letter": "Επιστολή",
        }
        description = words.get(f.kind, f.kind)
        if doc is not None:
            description += f" — κωδικός επαλήθευσης {doc.verification_code}, κατάσταση {doc.status}"
        plan.parts.append(
            StoredPart(
                path,
                f"document:{f.kind}",
                f.object_key,
                f.sha256,
                f.size,
                f.content_type,
                description,
                versions[f.object_key],
            )
        )
        listing.append(
            {
                **f.as_dict(),
                "path": path,
                "created_at": _stamp(f.created_at),
                "uploaded_by_applicant": f.uploaded_by_applicant,
                "issued": None
                if doc is None
                else {
                    "verification_code": doc.verification_code,
                    "status": doc.status,
                    "protocol_number": doc.protocol_number,
                    "issued_at": _stamp(doc.issued_at),
                    "revoked_at": _stamp(doc.revoked_at),
                    "revocation_reason": doc.revocation_reason,
                },
            }
        )
    plan.parts.append(
        RecordPart("documents.json", "record", listing, "Τα έγγραφα και οι εκδόσεις τους, με SHA-256")
    )


def _version_id(session: Session, key: str) -> str | None:
    return session.scalar(select(StoredObjectRecord.version_id).where(StoredObjectRecord.key == key))


def _entries(session: Session, viewer: User, entries: list[ProtocolEntry], plan: CaseFilePlan) -> None:
    """Protocol entries: in full where the viewer may read them, as numbers otherwise."""
    listed = [e for e in entries if may_see(e.classification, viewer.clearance)]
    visible = visible_entry_ids(session, [e.id for e in listed], viewer)
    records = []
    for entry in listed:
        if entry.id not in visible:
            records.append(describe_restricted(entry))
            continue
        related = list(
            session.scalars(select(EntryRelation.related_id).where(EntryRelation.entry_id == entry.id))
        )
        units = list(
            session.scalars(select(EntryAssignment.department_id).where(EntryAssignment.entry_id == entry.id))
        )
        record = describe(entry, related, units)
        folder = f"protocol/{entry.year}-{entry.number}-{safe_name(entry.book.code)}"
        for f in entry.files:
            path = f"{folder}/{f.position + 1:02d}-{safe_name(f.filename)}"
            plan.parts.append(
                StoredPart(
                    path,
                    "protocol-file",
                    f.storage_key,
                    f.sha256,
                    f.size,
                    f.content_type,
                    f"Αρχείο της καταχώρισης {entry.display_number}",
                    _version_id(session, f.storage_key),
                )
            )
        if entry.receipt_key:
            receipt = session.scalars(
                select(StoredObjectRecord).where(StoredObjectRecord.key == entry.receipt_key)
            ).one_or_none()
            if receipt is not None:
                plan.parts.append(
                    StoredPart(
                        f"{folder}/apodeixi.pdf",
                        "receipt",
                        receipt.key,
                        receipt.sha256,
                        receipt.size,
                        receipt.content_type,
                        f"Απόδειξη καταχώρισης {entry.display_number}",
                        receipt.version_id,
                    )
                )
        records.append(record)
    plan.parts.append(
        RecordPart(
            "protocol/entries.json",
            "record",
            records,
            "Οι καταχωρίσεις πρωτοκόλλου (σχετικά, ακυρώσεις, ορθές επαναλήψεις)",
        )
    )


def _case_trail(session: Session, case: Case, plan: CaseFilePlan, *, prefix: str) -> None:
    """The case's open tasks (who holds it now) and its whole audit chain."""
    tasks = session.scalars(select(CaseTask).where(CaseTask.case_id == case.id).order_by(CaseTask.created_at))
    names = {}
    open_tasks = []
    for task in tasks:
        if task.assignee_id is not None and task.assignee_id not in names:
            person = session.get(User, task.assignee_id)
            names[task.assignee_id] = person.full_name if person else str(task.assignee_id)
        open_tasks.append(
            {
                "task_id": str(task.task_id),
                "title": task.title,
                "role": task.role,
                "department": _unit_name(session, task.department_id),
                "assignee": names.get(task.assignee_id) if task.assignee_id else None,
                "created_at": _stamp(task.created_at),
                "due_at": _stamp(task.due_at),
            }
        )
    plan.parts.append(
        RecordPart(
            f"{prefix}tasks.json", "record", open_tasks, f"Ανοιχτές εργασίες της υπόθεσης {case.number}"
        )
    )
    events = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq))
    plan.parts.append(
        RecordPart(
            f"{prefix}audit.json",
            "record",
            [
                {
                    "seq": e.seq,
                    "at": _stamp(e.at),
                    "actor": e.actor,
                    "action": e.action,
                    "task_id": str(e.task_id) if e.task_id else None,
                    "details": e.details,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in events
            ],
            f"Το ιστορικό (αλυσίδα ελέγχου) της υπόθεσης {case.number}",
        )
    )


def _unit_name(session: Session, unit_id: uuid.UUID | None) -> str | None:
    if unit_id is None:
        return None
    unit = session.get(Department, unit_id)
    return unit.name_el if unit else str(unit_id)


def case_file_of_document(session: Session, document_id: uuid.UUID, viewer: User) -> CaseFilePlan:
    """The case file of an incoming document whose entry the viewer may read in full; the
    export is recorded in the document's history."""
    document = session.get(IncomingDocument, document_id)
    if document is None:
        raise CaseFileNotFound("No such document; check the link.")
    entry = document.entry
    if not may_see(entry.classification, viewer.clearance):
        raise CaseFileNotFound("No such document; check the link.")
    if not may_see_entry(session, entry, viewer):
        raise CaseFileRestricted(
            "This document is restricted to the protocol office, the units it is assigned to and named"
            " people; only they export its file."
        )
    plan = CaseFilePlan(
        title=f"Φάκελος εγγράφου {entry.display_number}", reference=f"{entry.number}-{entry.year}"
    )
    plan.parts.append(
        RecordPart(
            "document.json",
            "record",
            {
                "id": str(document.id),
                "entry": entry.display_number,
                "document_type": document.document_type,
                "source": document.source,
                "registered_by": _person(session, document.registered_by_id),
                "registering_unit": _unit_name(session, document.unit_id),
                "created_at": _stamp(document.created_at),
            },
            "Το έγγραφο",
        )
    )
    corrections = list(
        session.scalars(
            select(ProtocolEntry)
            .where(ProtocolEntry.corrects_id == entry.id)
            .order_by(ProtocolEntry.registered_at)
        )
    )
    _entries(session, viewer, [entry, *corrections], plan)
    assignments = list(
        session.scalars(
            select(DocumentAssignment)
            .where(DocumentAssignment.document_id == document.id)
            .order_by(DocumentAssignment.assigned_at, DocumentAssignment.id)
        )
    )
    plan.parts.append(
        RecordPart(
            "assignments.json",
            "record",
            [
                {
                    "id": str(a.id),
                    "unit": _unit_name(session, a.department_id),
                    "purpose": a.purpose,
                    "state": a.state,
                    "case": None if a.case_id is None else _case_number(session, a.case_id),
                    "assigned_by": _person(session, a.assigned_by_id),
                    "assigned_at": _stamp(a.assigned_at),
                    "due_at": _stamp(a.due_at),
                    "reassigned_from": str(a.reassigned_from_id) if a.reassigned_from_id else None,
                    "note": a.note,
                    "read_at": _stamp(a.read_at),
                    "read_by": _person(session, a.read_by_id),
                    "closed_at": _stamp(a.closed_at),
                    "closed_by": _person(session, a.closed_by_id),
                    "reason": a.reason,
                    "file_plan_code": a.file_plan_code,
                    "escalated_at": _stamp(a.escalated_at),
                }
                for a in assignments
            ],
            "Οι χρεώσεις (για ενέργεια / για ενημέρωση), η κατάστασή τους και οι αιτιολογίες",
        )
    )
    events = session.scalars(
        select(DocumentEvent).where(DocumentEvent.document_id == document.id).order_by(DocumentEvent.id)
    )
    plan.parts.append(
        RecordPart(
            "history.json",
            "record",
            [
                {"at": _stamp(e.at), "actor": e.actor, "action": e.action, "details": e.details}
                for e in events
            ],
            "Το ιστορικό του εγγράφου",
        )
    )
    seen: set[uuid.UUID] = set()
    for a in assignments:
        if a.case_id is None or a.case_id in seen:
            continue
        seen.add(a.case_id)
        case = session.get(Case, a.case_id)
        if case is not None:
            _case_trail(session, case, plan, prefix=f"cases/{safe_name(case.number)}/")
    # Who took the file away is part of the document's history (after it was collected).
    record_event(session, document.id, viewer, "exported", parts=len(plan.parts))
    return plan


def _person(session: Session, user_id: uuid.UUID | None) -> str | None:
    if user_id is None:
        return None
    person = session.get(User, user_id)
    return person.full_name if person else str(user_id)


def _case_number(session: Session, case_id: uuid.UUID) -> str:
    return session.scalar(select(Case.number).where(Case.id == case_id)) or str(case_id)
