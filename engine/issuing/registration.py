"""After the last signature: registration, then the protocol number stamped by the e-seal.

An official's signature comes first and the protocol number only after it (the number is
the legal time of the document, taken when it leaves). The official's signature reserves
an empty signature field (``signing.two_step.ReservedField``) and certifies the document
with DocMDP "fill forms and sign" (or locks only its own field), so the organisation's
e-seal may later fill that field: its visible stamp shows the protocol number and date,
written as an incremental update that leaves the official's signature valid.

    code = new_verification_code()               # before signing: the QR code needs it
    signed = sign_remotely(signing, csc, [(pdf, official_stamp)], pin=..., reserve=ReservedField())
    ... register ΕΞ, get the number ...
    issue_signed_document(session, sealer, store, signed_pdf=signed[0], ...)
"""

from __future__ import annotations

import uuid
from datetime import datetime
from io import BytesIO

from sqlalchemy.orm import Session

from core.clock import ATHENS
from engine.issuing.registry import IssuedDocument, issue_document, verification_path
from signing.sealer import Sealer, SealRequest
from signing.stamp import REGISTRATION_TEXT, Stamp
from signing.two_step import ReservedField
from storage import ObjectStore
from storage.records import store_file

#: The field an official's signature leaves for the registration seal.
REGISTRATION_FIELD = ReservedField().name


def registration_stamp(
    *, protocol_number: str, registered_at: datetime, verification_url: str, verification_code: str
) -> Stamp:
    """The registration stamp: protocol number, Athens date, the seal's name, the code."""
    return Stamp(
        verification_url,
        verification_code,
        text=REGISTRATION_TEXT,
        details=(
            ("protocol", protocol_number),
            ("date", registered_at.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M")),
        ),
    )


def stamp_registration(
    sealer: Sealer,
    signed_pdf: bytes,
    *,
    protocol_number: str,
    registered_at: datetime,
    verification_url: str,
    verification_code: str,
    field_name: str = REGISTRATION_FIELD,
) -> bytes:
    """Seal the signed PDF into its reserved field, showing the protocol number and date."""
    stamp = registration_stamp(
        protocol_number=protocol_number,
        registered_at=registered_at,
        verification_url=verification_url,
        verification_code=verification_code,
    )
    return sealer.seal_many([SealRequest(signed_pdf, stamp, field_name=field_name)])[0]


def issue_signed_document(
    session: Session,
    sealer: Sealer,
    store: ObjectStore,
    *,
    title: str,
    signed_pdf: bytes,
    protocol_number: str,
    registered_at: datetime,
    public_base_url: str,
    verification_code: str,
    signer_name: str,
    signer_title: str | None = None,
    issued_by: uuid.UUID | None = None,
    supersedes: IssuedDocument | None = None,
) -> IssuedDocument:
    """Stamp the registration into an official's signed PDF, store it and register it.

    Sealing comes first: if the TSA, OCSP responder or token is down, the error propagates
    and nothing is stored or registered (the caller retries with the same signed PDF).
    """
    stamped = stamp_registration(
        sealer,
        signed_pdf,
        protocol_number=protocol_number,
        registered_at=registered_at,
        verification_url=public_base_url.rstrip("/") + verification_path(verification_code),
        verification_code=verification_code,
    )
    record = store_file(
        session,
        store,
        BytesIO(stamped),
        content_type="application/pdf",
        filename=f"{verification_code}.pdf",
    )
    return issue_document(
        session,
        title=title,
        pdf=stamped,
        storage_key=record.key,
        protocol_number=protocol_number,
        verification_code=verification_code,
        issued_by=issued_by,
        supersedes=supersedes,
        signer_name=signer_name,
        signer_title=signer_title,
    )
