"""The applicant sends the document a clerk asked for: stored, registered (ΕΙΣ), delivered.

The case waits at the BPMN message event ``document_supplied``; the files arrive as a
message whose payload lists them, so the clerk's task picks up where it stopped. The
documents are registered in the protocol like any incoming document, related (σχετικό)
to the request's own entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import Conflict
from engine.protocol.drafts import EntryDraft, FileRef
from engine.protocol.entries import register
from engine.protocol.models import DeliveryMethod, Direction
from engine.requests.files import FileRejected, add_case_file
from engine.requests.scanning import Scanner
from engine.requests.submission import (
    SubmissionInvalid,
    Upload,
    _examine,
    check_idempotency_key,
    protocol_summary,
)
from engine.requests.tracking import SUPPLIED_MESSAGE, find_by_tracking_code
from engine.workflow.mailbox import waiting_message_names
from engine.workflow.messages import send_message
from engine.workflow.models import Message
from engine.workflow.runtime import lock_case
from forms.services import AttachmentInfo
from forms.submission_errors import FieldError
from forms.submissions import filename_problem

ACCEPTED_TYPES = ("application/pdf", "image/jpeg", "image/png")
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
NOTE_LIMIT = 2000


class NotWaitingForDocuments(Conflict):
    """The case does not wait for documents from its applicant now."""

    code = "not_waiting_for_documents"


@dataclass(frozen=True)
class Supplied:
    """What the applicant gets back after sending documents."""

    case_number: str
    protocol_number: str | None
    files: list[dict[str, Any]]
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"case_number": self.case_number, "protocol_number": self.protocol_number, "files": self.files}


def _problems(uploads: Sequence[Upload], infos: Sequence[AttachmentInfo], note: str) -> list[FieldError]:
    problems: list[FieldError] = []
    if not uploads:
        problems.append(
            FieldError("documents", "Επισυνάψτε τουλάχιστον ένα αρχείο.", "Attach at least one file.")
        )
    if len(uploads) > MAX_FILES:
        problems.append(
            FieldError(
                "documents", f"Έως {MAX_FILES} αρχεία κάθε φορά.", f"At most {MAX_FILES} files at a time."
            )
        )
    for index, info in enumerate(infos):
        where = f"documents[{index}]"
        if filename_problem(info.filename):
            problems.append(
                FieldError(
                    where,
                    "Μη αποδεκτό όνομα αρχείου· στείλτε μόνο το όνομα, χωρίς φάκελο.",
                    "Unacceptable file name; send the bare name, without folders.",
                )
            )
        if info.content_type not in ACCEPTED_TYPES:
            problems.append(
                FieldError(
                    where,
                    "Γίνονται δεκτά μόνο PDF, JPEG και PNG.",
                    f"Type {info.content_type} is not accepted; send PDF, JPEG or PNG.",
                )
            )
        if not 0 < info.size <= MAX_FILE_BYTES:
            problems.append(
                FieldError(
                    where,
                    "Το αρχείο είναι κενό ή μεγαλύτερο από 10 MB.",
                    "The file is empty or larger than 10 MB.",
                )
            )
    if len(note) > NOTE_LIMIT:
        problems.append(
            FieldError(
                "note",
                f"Το σημείωμα έως {NOTE_LIMIT} χαρακτήρες.",
                f"The note: at most {NOTE_LIMIT} characters.",
            )
        )
    return problems


def supply_documents(
    session: Session,
    store: Any,
    tracking_code: str,
    uploads: Sequence[Upload],
    *,
    note: str = "",
    idempotency_key: str | None = None,
    scanner: Scanner | None = None,
) -> Supplied:
    """Store, register and deliver documents the case is waiting for (see module docstring)."""
    key = check_idempotency_key(idempotency_key)
    row = find_by_tracking_code(session, tracking_code)
    # The case row first, then the protocol counter (inside register), as every command
    # and register_protocol do: one lock order, so no deadlock with the worker. Under the
    # lock the workflow itself says whether it still waits for the documents: a reply
    # timer that fired a moment ago, or a first copy of a double submit, is seen here.
    case = lock_case(session, row.id)
    message_id = f"supplied:{case.id}:{key}" if key else f"supplied:{uuid.uuid4()}"
    if key is not None:
        earlier = session.scalar(select(Message.payload).where(Message.message_id == message_id))
        if earlier is not None:
            return Supplied(
                case.number, earlier.get("protocol_number"), list(earlier.get("attachments", [])), True
            )
    if SUPPLIED_MESSAGE not in waiting_message_names(case.workflow):
        raise NotWaitingForDocuments(
            f"Request {case.number} is not waiting for documents from you now; follow its tracking page "
            "for what happens next."
        )
    applicant = row.applicant or {}
    note = (note or "").strip()
    checked = [_examine(upload) for upload in uploads]
    infos = [AttachmentInfo("document", c.upload.filename, c.content_type, c.size) for c in checked]
    problems = _problems(uploads, infos, note)
    if problems:
        raise SubmissionInvalid(problems)
    for item in checked:
        if scanner is not None:
            found = scanner.scan(item.upload.stream)
            item.upload.stream.seek(0)
            if found:
                raise FileRejected(
                    f"The file {item.upload.filename!r} failed the virus check ({found}); send a clean copy."
                )
    files = [
        add_case_file(
            session,
            store,
            case.id,
            "supplied",
            item.upload.filename,
            item.content_type,
            item.upload.stream,
            uploaded_by_applicant=True,
            max_bytes=MAX_FILE_BYTES,
        )
        for item in checked
    ]
    protocol_in = case.data.get("protocol_in") or {}
    related = (uuid.UUID(protocol_in["entry_id"]),) if protocol_in.get("entry_id") else ()
    entry = register(
        session,
        EntryDraft(
            direction=Direction.INCOMING,
            subject=f"Συμπληρωματικά στοιχεία της αίτησης {case.number}",
            sender=str(applicant.get("name") or "—"),
            attachments_count=len(files),
            attachments_description=", ".join(f.filename for f in files)[:500],
            delivery_method=DeliveryMethod.PORTAL,
            document_type="Συμπληρωματικά στοιχεία",
            related=related,
            files=tuple(FileRef(f.object_key, f.sha256, f.filename, f.size, f.content_type) for f in files),
            case_id=case.id,
            case_number=case.number,
        ),
        now=utcnow,
    )
    summary = protocol_summary(entry)
    payload = {
        "attachments": [f.as_dict() for f in files],
        "note": note,
        "protocol_number": summary["display"],
        "protocol_supplied": summary,
    }
    outcome = send_message(session, SUPPLIED_MESSAGE, case.number, message_id, payload)
    if outcome != "delivered":  # pragma: no cover - the case is locked and waits, checked above
        raise Conflict(
            f"The documents for request {case.number} could not be delivered ({outcome}); send them again."
        )
    return Supplied(case.number, summary["display"], payload["attachments"])
