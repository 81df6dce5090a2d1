"""Anonymous submissions wait for their email to be confirmed before anything is registered.

Anyone can type someone else's address into a form. So a submission from someone who is not
signed in with a verified email is *held*: it is checked completely, its files are stored
(without retention: they are not a record yet), and a one-time confirmation link is emailed —
the only message sent to that address. No protocol number is taken, no case starts and no
notice goes out until the link is followed (:func:`confirm_submission`), which registers it
exactly as a signed-in submission. A hold expires after HOLD_FOR. Only services whose
catalogue entry says ``"anonymous": true`` accept anonymous submissions at all.

:func:`receive_submission` is the entry point for untrusted callers (the public API): it
applies these rules; :func:`engine.requests.submission.submit_request` registers at once and is
for callers whose applicant is known (signed-in citizens, the SMS gateway, staff tools).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ATHENS, utcnow
from core.errors import NotFound
from core.settings import Settings
from engine.administration.services import check_service_open
from engine.notifications.outbox import enqueue_notification
from engine.people.models import Department
from engine.requests.models import PendingSubmission
from engine.requests.scanning import Scanner
from engine.requests.submission import (
    ApplicantInfo,
    CheckedSubmission,
    IdempotencyKeyReused,
    SignInRequired,
    StoredAttachment,
    Submission,
    SubmissionInvalid,
    Upload,
    check_idempotency_key,
    check_submission_request,
    register_submission,
    store_attachments,
    submit_request,
)
from forms.catalogue import get_service
from forms.submission_errors import FieldError
from storage import ObjectStore
from storage.models import StoredObjectRecord

#: How long a confirmation link works.
HOLD_FOR = timedelta(hours=24)


class ConfirmationInvalid(NotFound):
    """The confirmation link is unknown or has expired."""

    code = "confirmation_invalid"


@dataclass(frozen=True)
class Held:
    """A submission waiting for its email to be confirmed."""

    pending_id: uuid.UUID
    email: str
    expires_at: datetime
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: what the applicant must do next."""
        return {
            "status": "pending_confirmation",
            "email": self.email,
            "expires_at": self.expires_at.isoformat(),
            "message": (
                "Ανοίξτε τον σύνδεσμο που στείλαμε στο email σας για να υποβληθεί το αίτημα."
                " / Open the link we emailed you to submit the request."
            ),
        }


def confirmation_url(settings: Settings, token: str) -> str:
    """The link in the confirmation email (the portal's page posts the token back)."""
    return f"{settings.public_base_url.rstrip('/')}/citizen/confirm-request?token={quote(token)}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def receive_submission(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    *,
    service_code: str,
    form: Any,
    attachments: Sequence[Upload],
    applicant: ApplicantInfo,
    email_verified: bool,
    idempotency_key: str | None = None,
    source: str = "web",
    scanner: Scanner | None = None,
    now: datetime | None = None,
    delivery: str | None = None,
) -> Submission | Held:
    """A submission from the public API: registered now if the applicant's email is verified
    (a signed-in citizen), otherwise held for confirmation where the service allows it."""
    if email_verified:
        return submit_request(
            session,
            store,
            service_code=service_code,
            form=form,
            attachments=attachments,
            applicant=applicant,
            idempotency_key=idempotency_key,
            source=source,
            scanner=scanner,
            settings=settings,
            now=now,
            delivery=delivery,
        )
    return hold_submission(
        session,
        store,
        settings,
        service_code=service_code,
        form=form,
        attachments=attachments,
        applicant=applicant,
        idempotency_key=idempotency_key,
        source=source,
        scanner=scanner,
        now=now,
        delivery=delivery,
    )


def hold_submission(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    *,
    service_code: str,
    form: Any,
    attachments: Sequence[Upload],
    applicant: ApplicantInfo,
    idempotency_key: str | None = None,
    source: str = "web",
    scanner: Scanner | None = None,
    now: datetime | None = None,
    delivery: str | None = None,
) -> Held:
    """Check an anonymous submission, store its files and email the confirmation link."""
    service = get_service(service_code)
    if not service.anonymous:
        raise SignInRequired(
            f"The service {service.code} needs you to sign in first (POST /api/v1/citizen/login or the"
            " municipality's sign-in); it is not accepted from people who are not signed in."
        )
    if not (applicant.email or "").strip():
        raise SubmissionInvalid(
            [
                FieldError(
                    "applicant.email",
                    "Γράψτε το email σας: εκεί θα σας στείλουμε σύνδεσμο επιβεβαίωσης.",
                    "Give your email: we send a confirmation link there before the request is submitted.",
                )
            ]
        )
    key = check_idempotency_key(idempotency_key)
    checked = check_submission_request(
        session,
        service_code=service_code,
        form=form,
        attachments=attachments,
        applicant=applicant,
        idempotency_key=key,
        source=source,
        scanner=scanner,
        delivery=delivery,
    )
    if key is not None:
        earlier = session.scalars(
            select(PendingSubmission).where(PendingSubmission.idempotency_key == key)
        ).first()
        if earlier is not None:
            if earlier.payload.get("fingerprint") != checked.fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was already used for a different request. Send a new key for a"
                    " new request; reuse a key only to retry exactly the same request."
                )
            return Held(earlier.id, earlier.email, earlier.expires_at, replayed=True)
    check_service_open(session, service.code)  # switched off: no new requests (a retry replays above)
    stored = store_attachments(session, store, checked, retain=False)
    moment = now or utcnow()
    token = secrets.token_urlsafe(32)
    email = str(checked.applicant.email)
    row = PendingSubmission(
        token_sha256=_digest(token),
        idempotency_key=key,
        email=email.strip().lower(),  # as accounts keep it: My requests finds it by address
        payload=_payload(checked, stored),
        expires_at=moment + HOLD_FOR,
    )
    session.add(row)
    session.flush()
    enqueue_notification(
        session,
        channel="email",
        recipient=email,
        locale=checked.applicant.locale,
        template_key="submission_confirmation",
        values={
            "applicant_name": checked.applicant.name,
            "service_title": service.title.en if checked.applicant.locale == "en" else service.title.el,
            "confirmation_url": confirmation_url(settings, token),
            "expires": row.expires_at.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M"),
            "municipality_name": settings.municipality_name,
        },
        now=moment,
    )
    return Held(row.id, email, row.expires_at)


def _payload(checked: CheckedSubmission, stored: Sequence[StoredAttachment]) -> dict[str, Any]:
    return {
        "service_code": checked.service.code,
        "form": checked.form,
        "applicant": checked.applicant.as_dict(),
        "source": checked.source,
        "fingerprint": checked.fingerprint,
        "delivery": checked.delivery,
        "attachments": [
            {
                "key": a.key,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "stored_object_id": str(a.record.id),
            }
            for a in stored
        ],
    }


def confirm_submission(
    session: Session, store: ObjectStore, settings: Settings, token: str, *, now: datetime | None = None
) -> Submission:
    """Follow a confirmation link: register the held submission (once; a repeat answers the same)."""
    row = session.scalars(
        select(PendingSubmission)
        .where(PendingSubmission.token_sha256 == _digest(token.strip()))
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise ConfirmationInvalid("This confirmation link is not valid; open the whole link from the email.")
    if row.response is not None:
        return Submission(**row.response, replayed=True)
    moment = now or utcnow()
    if row.expires_at <= moment:
        raise ConfirmationInvalid("This confirmation link has expired; submit the request again.")
    payload = row.payload
    service = get_service(payload["service_code"])
    department = service.department_for(payload["form"])
    department_id = session.scalar(select(Department.id).where(Department.code == department))
    if department_id is None:
        raise ConfirmationInvalid(f"The service {service.code} is no longer offered; ask the municipality.")
    attachments = []
    for item in payload["attachments"]:
        record = session.get(StoredObjectRecord, uuid.UUID(item["stored_object_id"]))
        assert record is not None  # held submissions keep their records
        store.retain(record.key, record.version_id)  # now it becomes a record of the municipality
        attachments.append(
            StoredAttachment(
                item["key"], item["filename"], item["content_type"], item["size"], item["sha256"], record
            )
        )
    result = register_submission(
        session,
        settings,
        service=service,
        form=payload["form"],
        applicant=ApplicantInfo.from_dict(payload["applicant"]),
        source=payload["source"],
        department_id=department_id,
        attachments=attachments,
        idempotency_key=None,
        fingerprint=payload["fingerprint"],
        now=moment,
        delivery=payload.get("delivery", "download"),
    )
    row.confirmed_at, row.case_id, row.response = moment, uuid.UUID(result.case_id), result.as_dict()
    session.flush()
    return result


def purge_expired_holds(session: Session, *, now: datetime | None = None) -> list[tuple[str, str | None]]:
    """Delete holds whose link expired unused, and their file records; returns the objects to
    discard from the store once this transaction has committed (none of them is a record)."""
    moment = now or utcnow()
    expired = session.scalars(
        select(PendingSubmission)
        .where(PendingSubmission.response.is_(None), PendingSubmission.expires_at < moment)
        .with_for_update(skip_locked=True)
    ).all()
    objects: list[tuple[str, str | None]] = []
    for row in expired:
        for item in row.payload.get("attachments", []):
            record = session.get(StoredObjectRecord, uuid.UUID(item["stored_object_id"]))
            if record is not None:
                objects.append((record.key, record.version_id))
                session.delete(record)
        session.delete(row)
    session.flush()
    return objects
