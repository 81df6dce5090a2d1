"""Submitting a citizen's request: one transaction from the upload to the first clerk's queue.

``submit_request`` checks everything first (service, form, attachment types sniffed from the
bytes, sizes, names, the applicant's contact details, the virus scan), stores the files,
registers the request in the protocol (ΕΙΣ), starts the case on the service's process and
queues the "request received" notification. A refusal raises before anything is written; a
failure later rolls the whole transaction back (stored objects stay unreferenced, never half
recorded). An ``Idempotency-Key`` makes a retried submit return the first answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import Conflict, InvalidInput, PermissionDenied
from core.settings import Settings, get_settings
from core.workdays import athens_date, due_date
from engine.administration.services import check_service_open
from engine.notifications.outbox import notify_applicant
from engine.people.models import Department
from engine.protocol.drafts import EntryDraft, FileRef
from engine.protocol.entries import register
from engine.protocol.models import DeliveryMethod, Direction, ProtocolEntry
from engine.requests.files import OCTET_STREAM, FileRejected, add_case_file, pdf_tail_ok, sniff
from engine.requests.models import CaseFile, RequestSubmission
from engine.requests.scanning import Scanner
from engine.requests.urls import tracking_url
from engine.workflow.commands import start_case
from engine.workflow.models import Case
from forms.catalogue import get_service
from forms.greek_ids import is_valid_greek_phone, normalise_phone
from forms.services import AttachmentInfo, Service
from forms.submission_errors import FieldError
from forms.submissions import check_submission
from storage import ObjectStore
from storage.models import StoredObjectRecord
from storage.records import store_file

_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{8,255}$")
_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CHANNELS = ("email", "sms", "both")
SOURCES = ("web", "api", "sms")


class SubmissionInvalid(InvalidInput):
    """A submission with problems; ``details["errors"]`` lists each field's problem in el and en."""

    code = "submission_invalid"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        summary = "; ".join(f"{e.field or 'form'}: {e.en}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(
            f"The request has problems: {summary}{more}. Correct them and submit again.",
            errors=[e.as_dict() for e in errors],
        )
        self.errors = list(errors)


class SignInRequired(PermissionDenied):
    """The service takes requests only from signed-in citizens (its catalogue entry is not
    ``"anonymous": true``)."""

    code = "service_needs_sign_in"


class IdempotencyKeyReused(Conflict):
    """The same Idempotency-Key came with a different request."""

    code = "idempotency_key_reused"


@dataclass(frozen=True)
class Upload:
    """One file sent with a request: its attachment kind, the name it had and a seekable stream."""

    key: str
    filename: str
    stream: BinaryIO


@dataclass(frozen=True)
class ApplicantInfo:
    """Who asks and how they want to hear back."""

    name: str
    email: str | None = None
    phone: str | None = None
    channel: str = "email"
    locale: str = "el"
    applicant_id: uuid.UUID | None = None

    # The notification code reads these names (engine.notifications.outbox.NotificationRecipient).
    @property
    def preferred_channel(self) -> str:
        """The channel chosen (email, sms or both)."""
        return self.channel

    @property
    def preferred_locale(self) -> str:
        """The language chosen (el or en)."""
        return self.locale

    def as_dict(self) -> dict[str, Any]:
        """The case's ``applicant`` column."""
        return {
            "applicant_id": str(self.applicant_id) if self.applicant_id else None,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "channel": self.channel,
            "locale": self.locale,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> ApplicantInfo:
        """Back from the case's ``applicant`` column."""
        applicant_id = value.get("applicant_id")
        return cls(
            name=str(value.get("name") or ""),
            email=value.get("email"),
            phone=value.get("phone"),
            channel=str(value.get("channel") or "email"),
            locale=str(value.get("locale") or "el"),
            applicant_id=uuid.UUID(applicant_id) if applicant_id else None,
        )


@dataclass(frozen=True)
class Submission:
    """What the applicant gets back: the numbers, the tracking code and where the receipt is."""

    case_id: str
    case_number: str
    tracking_code: str
    tracking_url: str
    protocol_number: str
    protocol_entry_id: str
    registered_at: str
    expected_by: str
    service_code: str
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the replay flag (it goes into a header)."""
        body = asdict(self)
        body.pop("replayed")
        return body


def _applicant_errors(applicant: ApplicantInfo) -> tuple[list[FieldError], ApplicantInfo]:
    errors: list[FieldError] = []
    name = " ".join(applicant.name.split())
    if not 2 <= len(name) <= 200:
        errors.append(FieldError("applicant.name", "Γράψτε το ονοματεπώνυμό σας.", "Write your full name."))
    email = (applicant.email or "").strip().lower() or None
    if email is not None and (len(email) > 254 or not _EMAIL_PATTERN.match(email)):
        errors.append(
            FieldError(
                "applicant.email",
                "Η διεύθυνση email δεν είναι έγκυρη.",
                "The email address is not valid.",
            )
        )
    phone = (applicant.phone or "").strip() or None
    if phone is not None:
        if is_valid_greek_phone(phone):
            phone = normalise_phone(phone)
        else:
            errors.append(
                FieldError(
                    "applicant.phone",
                    "Ο αριθμός κινητού δεν είναι ελληνικός αριθμός (π.χ. 6912345678).",
                    "The phone is not a Greek mobile number (e.g. 6912345678).",
                )
            )
    if applicant.channel not in CHANNELS:
        errors.append(
            FieldError(
                "applicant.channel",
                "Διαλέξτε ειδοποίηση με email, SMS ή και τα δύο.",
                "Choose notification by email, sms or both.",
            )
        )
    elif applicant.channel in ("email", "both") and email is None:
        errors.append(
            FieldError(
                "applicant.email",
                "Για ειδοποίηση με email γράψτε το email σας.",
                "Email notices need an email.",
            )
        )
    elif applicant.channel in ("sms", "both") and phone is None:
        errors.append(
            FieldError(
                "applicant.phone",
                "Για ειδοποίηση με SMS γράψτε τον αριθμό του κινητού σας.",
                "SMS notices need a mobile phone number.",
            )
        )
    if applicant.locale not in ("el", "en"):
        errors.append(FieldError("applicant.locale", "Γλώσσα: el ή en.", "Language: el or en."))
    clean = ApplicantInfo(name, email, phone, applicant.channel, applicant.locale, applicant.applicant_id)
    return errors, clean


def _delivery_errors(service: Service, delivery: str | None) -> list[FieldError]:
    if delivery is None or delivery in service.delivery:
        return []
    allowed = ", ".join(service.delivery)
    return [
        FieldError(
            "delivery",
            f"Διαλέξτε πώς θα παραλάβετε το αποτέλεσμα ({allowed}).",
            f"Choose how you will receive the result ({allowed}).",
        )
    ]


def _check_sign_in(service: Service, applicant: ApplicantInfo) -> None:
    if service.requires_sign_in and applicant.applicant_id is None:
        raise SignInRequired(
            f"The service {service.code} takes requests only from signed-in citizens; sign in "
            "(or create an account) and submit again."
        )


def check_answers(
    service_code: str, form: Any, applicant: ApplicantInfo, delivery: str | None = None
) -> list[FieldError]:
    """Every problem with a request's answers, its files aside (a form's step before the upload).

    SignInRequired if the service needs a signed-in citizen and ``applicant`` is anonymous.
    """
    service = get_service(service_code)
    _check_sign_in(service, applicant)
    errors = [e for e in check_submission(service, form) if not e.field.startswith("attachments")]
    return errors + _applicant_errors(applicant)[0] + _delivery_errors(service, delivery)


@dataclass
class _Checked:
    upload: Upload
    content_type: str
    size: int
    sha256: str


def _examine(upload: Upload) -> _Checked:
    """Sniff, measure and hash a file without keeping it in memory."""
    stream = upload.stream
    stream.seek(0)
    head = stream.read(1024)
    digest = hashlib.sha256(head)
    size = len(head)
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    kind = sniff(head)
    if kind == "application/pdf" and not pdf_tail_ok(stream):
        kind = OCTET_STREAM  # starts like a PDF but is not one: refused as an unknown type
    return _Checked(upload, kind, size, digest.hexdigest())


def check_idempotency_key(key: str | None) -> str | None:
    """The key, if well formed (8–255 visible ASCII characters, e.g. a UUID)."""
    if key is None or key == "":
        return None
    if not _KEY_PATTERN.match(key):
        raise InvalidInput(
            "The Idempotency-Key header must be 8 to 255 visible ASCII characters; send a new UUID "
            "for each new request and the same one when you retry it."
        )
    return key


def _fingerprint(
    service_code: str,
    form: Any,
    applicant: ApplicantInfo,
    files: Sequence[_Checked],
    source: str,
    delivery: str,
) -> str:
    content = {
        "service": service_code,
        "form": form,
        "applicant": applicant.as_dict(),
        "source": source,
        "files": [[f.upload.key, f.upload.filename, f.sha256] for f in files],
    }
    if delivery != "download":  # fingerprints of requests made before the choice stay the same
        content["delivery"] = delivery
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _replay(row: RequestSubmission, fingerprint: str) -> Submission:
    if row.fingerprint != fingerprint or not row.response:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request. Send a new key for a "
            "new request; reuse a key only to retry exactly the same request."
        )
    return Submission(**row.response, replayed=True)


@dataclass(frozen=True)
class CheckedSubmission:
    """A submission that passed every check (form, files, applicant, virus scan); nothing stored."""

    service: Service
    form: Any
    applicant: ApplicantInfo
    files: Sequence[_Checked]
    source: str
    idempotency_key: str | None
    fingerprint: str
    department_id: uuid.UUID
    delivery: str = "download"


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment already in the object store: what the case records of it."""

    key: str
    filename: str
    content_type: str
    size: int
    sha256: str
    record: StoredObjectRecord


def check_submission_request(
    session: Session,
    *,
    service_code: str,
    form: Any,
    attachments: Sequence[Upload],
    applicant: ApplicantInfo,
    idempotency_key: str | None = None,
    source: str = "web",
    scanner: Scanner | None = None,
    delivery: str | None = None,
) -> CheckedSubmission:
    """Every check of a submission, before anything is stored; raises with every problem found.

    ``delivery`` is how the citizen will receive the result, one of the service's
    ``delivery`` methods (its first when None). Whether the service is switched off is the
    caller's check (``check_service_open``), after its idempotency replay: a retry of a request
    accepted before the switch-off gets its receipt, not a refusal.
    """
    if source not in SOURCES:
        raise InvalidInput(f"unknown submission source {source!r}; use one of {SOURCES}.")
    key = check_idempotency_key(idempotency_key)
    service = get_service(service_code)
    _check_sign_in(service, applicant)
    files = [_examine(upload) for upload in attachments]
    errors, applicant = _applicant_errors(applicant)
    infos = [AttachmentInfo(f.upload.key, f.upload.filename, f.content_type, f.size) for f in files]
    errors = check_submission(service, form, infos) + errors + _delivery_errors(service, delivery)
    if errors:
        raise SubmissionInvalid(errors)
    delivery = delivery or service.delivery[0]
    department = service.department_for(form)
    department_id = session.scalar(select(Department.id).where(Department.code == department))
    if department_id is None:
        raise InvalidInput(
            f"Service {service.code} belongs to department {department}, which does not exist "
            "here; an administrator must create it or change the service."
        )
    for checked in files:
        if scanner is not None:
            found = scanner.scan(checked.upload.stream)
            checked.upload.stream.seek(0)
            if found:
                raise FileRejected(
                    f"The file {checked.upload.filename!r} failed the virus check ({found}); "
                    "send a clean copy.",
                    field=checked.upload.key,
                )
    fingerprint = _fingerprint(service.code, form, applicant, files, source, delivery)
    return CheckedSubmission(
        service, form, applicant, files, source, key, fingerprint, department_id, delivery
    )


def store_attachments(
    session: Session, store: ObjectStore, checked: CheckedSubmission, *, retain: bool = True
) -> list[StoredAttachment]:
    """Store the checked files (after every check passed) and record them in the transaction.

    If the transaction rolls back, the objects are discarded again (storage.records): a refused
    or failed submission leaves nothing behind. ``retain=False`` keeps the store's retention
    off until the files belong to a registered request (a held, unconfirmed submission).
    """
    stored = []
    for f in checked.files:
        record = store_file(
            session,
            store,
            f.upload.stream,
            content_type=f.content_type,
            filename=f.upload.filename,
            metadata={"kind": "request-attachment"},
            retain=retain,
        )
        stored.append(
            StoredAttachment(f.upload.key, f.upload.filename, f.content_type, f.size, f.sha256, record)
        )
    return stored


def submit_request(
    session: Session,
    store: ObjectStore,
    *,
    service_code: str,
    form: Any,
    attachments: Sequence[Upload],
    applicant: ApplicantInfo,
    idempotency_key: str | None = None,
    source: str = "web",
    scanner: Scanner | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    delivery: str | None = None,
) -> Submission:
    """Check, store, register (ΕΙΣ) and start a request's case; see the module docstring.

    For applicants whose email is known to be theirs (signed-in citizens, confirmed holds) and
    for trusted channels; an anonymous web submission goes through engine.requests.pending.
    """
    checked = check_submission_request(
        session,
        service_code=service_code,
        form=form,
        attachments=attachments,
        applicant=applicant,
        idempotency_key=idempotency_key,
        source=source,
        scanner=scanner,
        delivery=delivery,
    )
    key = checked.idempotency_key
    if key is not None:
        earlier = session.get(RequestSubmission, key)
        if earlier is not None:
            return _replay(earlier, checked.fingerprint)
    check_service_open(session, checked.service.code)  # switched off: no new requests
    stored = store_attachments(session, store, checked)
    return register_submission(
        session,
        settings or get_settings(),
        service=checked.service,
        form=checked.form,
        applicant=checked.applicant,
        source=checked.source,
        department_id=checked.department_id,
        attachments=stored,
        idempotency_key=key,
        fingerprint=checked.fingerprint,
        now=now,
        delivery=checked.delivery,
    )


def register_submission(
    session: Session,
    settings: Settings,
    *,
    service: Service,
    form: Any,
    applicant: ApplicantInfo,
    source: str,
    department_id: uuid.UUID,
    attachments: Sequence[StoredAttachment],
    idempotency_key: str | None,
    fingerprint: str,
    now: datetime | None = None,
    delivery: str = "download",
) -> Submission:
    """Register a checked submission whose files are stored: protocol number, case, notice."""
    key = idempotency_key
    records = [a.record for a in attachments]
    if key is not None:
        claimed = session.execute(
            insert(RequestSubmission)
            .values(idempotency_key=key, fingerprint=fingerprint, response={})
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(RequestSubmission.idempotency_key)
        ).scalar()
        if claimed is None:  # the same key committed meanwhile by a concurrent retry
            earlier = session.scalars(
                select(RequestSubmission)
                .where(RequestSubmission.idempotency_key == key)
                .execution_options(populate_existing=True)
            ).one()
            return _replay(earlier, fingerprint)
    moment = now or utcnow()
    entry = register(
        session,
        EntryDraft(
            direction=Direction.INCOMING,
            subject=service.protocol_subject(form),
            sender=applicant.name,
            attachments_count=len(attachments),
            attachments_description=", ".join(a.filename for a in attachments)[:500] or None,
            delivery_method=DeliveryMethod.PORTAL,
            document_type="Αίτηση",
            files=tuple(FileRef(r.key, r.sha256, r.filename or "", r.size, r.content_type) for r in records),
        ),
        now=lambda: moment,
    )
    file_ids = [uuid.uuid4() for _ in attachments]
    attachments_data = [
        {
            "id": str(file_id),
            "key": a.key,
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "sha256": a.sha256,
        }
        for file_id, a in zip(file_ids, attachments, strict=True)
    ]
    protocol_in = protocol_summary(entry)
    due = due_date(moment, service.deadline_working_days)
    case = start_case(
        session,
        service.process,
        department_id=department_id,
        applicant=applicant.as_dict(),
        data={
            "service_code": service.code,
            "form": dict(form),
            "attachments": attachments_data,
            "channel": source,
            "delivery": delivery,
            "protocol_in": protocol_in,
            # For the process: the outgoing entry's subject and recipient, and the SLA timer
            # on the clerk's review (the legal deadline in working days).
            "service_title": service.title.el,
            "applicant_name": applicant.name,
            "due_at": due.isoformat(),
        },
        due_at=due,
    )
    for file_id, a in zip(file_ids, attachments, strict=True):
        session.add(
            CaseFile(
                id=file_id,
                case_id=case.id,
                kind="attachment",
                attachment_key=a.key,
                filename=a.filename,
                content_type=a.content_type,
                size=a.record.size,
                sha256=a.record.sha256,
                object_key=a.record.key,
                stored_object_id=a.record.id,
                uploaded_by_applicant=True,
            )
        )
    entry.case_id, entry.case_number = case.id, case.number
    tracking_code = str(session.scalar(select(Case.tracking_code).where(Case.id == case.id)))
    result = Submission(
        case_id=str(case.id),
        case_number=case.number,
        tracking_code=tracking_code,
        tracking_url=tracking_url(settings, tracking_code),
        protocol_number=protocol_in["display"],
        protocol_entry_id=protocol_in["entry_id"],
        registered_at=protocol_in["registered_at"],
        expected_by=athens_date(due).isoformat(),
        service_code=service.code,
    )
    notify_applicant(
        session,
        applicant,
        template_key="request_received",
        values=notification_values(settings, service, applicant, case.number, tracking_code)
        | {"protocol_number": protocol_in["display"], "expected_by": athens_date(due).strftime("%d/%m/%Y")},
        case_id=case.id,
        now=moment,
    )
    if key is not None:
        session.execute(
            update(RequestSubmission)
            .where(RequestSubmission.idempotency_key == key)
            .values(case_id=case.id, response=result.as_dict())
        )
    session.flush()
    return result


def protocol_summary(entry: ProtocolEntry) -> dict[str, Any]:
    """How a protocol entry is kept in case data (see CONTRACT: protocol_in / protocol_out)."""
    return {
        "entry_id": str(entry.id),
        "number": entry.number,
        "year": entry.year,
        "display": entry.display_number,
        "registered_at": entry.registered_at.isoformat(),
    }


def notification_values(
    settings: Settings, service: Service, applicant: ApplicantInfo, case_number: str, tracking_code: str
) -> dict[str, Any]:
    """The values every applicant notification template needs."""
    return {
        "applicant_name": applicant.name,
        "case_number": case_number,
        "service_title": service.title.en if applicant.locale == "en" else service.title.el,
        "tracking_url": tracking_url(settings, tracking_code),
        "tracking_code": tracking_code,
        "municipality_name": settings.municipality_name,
    }


def add_supplied_file(
    session: Session,
    store: ObjectStore,
    case_id: uuid.UUID,
    upload: Upload,
    content_type: str,
    max_bytes: int,
) -> CaseFile:
    """Store a document the applicant sent later (after a clerk asked for it)."""
    return add_case_file(
        session,
        store,
        case_id,
        "supplied",
        upload.filename,
        content_type,
        upload.stream,
        uploaded_by_applicant=True,
        max_bytes=max_bytes,
    )
