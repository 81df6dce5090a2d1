"""Receipts of registration: a Greek PDF/A-2b stored as an object, made once per entry.

The PDF is rendered outside the numbering transaction's critical section (on first request,
under the entry's row lock), so issuing receipts never slows numbering down. Sealing it is
the signing package's job: pass a :class:`ReceiptSealer`; until then receipts are unsealed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ATHENS
from engine.protocol.entries import may_see, require_contents
from engine.protocol.errors import EntryNotFound
from engine.protocol.models import Direction, ProtocolEntry
from engine.protocol.visibility import Viewer
from storage.base import ObjectStore
from storage.records import record_object

RECEIPT_CONTENT_TYPE = "application/pdf"
_DIRECTION_LABELS = {
    Direction.INCOMING.value: "Εισερχόμενο",
    Direction.OUTGOING.value: "Εξερχόμενο",
    Direction.INTERNAL.value: "Εσωτερικό",
}
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


class ReceiptSealer(Protocol):
    """The hook the signing package fills: returns the PDF sealed (e.g. PAdES B-LT)."""

    def seal_receipt(self, pdf: bytes, *, entry: ProtocolEntry) -> bytes:
        """Seal ``pdf``, the receipt of ``entry``."""
        ...


def render_receipt(entry: ProtocolEntry, *, issuer: str) -> bytes:
    """The receipt of ``entry`` as PDF/A-2b bytes, in Greek."""
    from weasyprint import HTML  # heavy import, only where receipts are made

    html = _templates.get_template("receipt.html").render(
        entry=entry,
        issuer=issuer,
        registry_name=entry.book.name_el,
        registered_at=entry.registered_at.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M:%S"),
        direction_label=_DIRECTION_LABELS.get(entry.direction, entry.direction),
        sender_date=entry.sender_date.strftime("%d/%m/%Y") if entry.sender_date else "",
        files=entry.files,
    )
    pdf: bytes = HTML(string=html).write_pdf(pdf_variant="pdf/a-2b")
    return pdf


def ensure_receipt(
    session: Session,
    store: ObjectStore,
    entry: ProtocolEntry,
    *,
    issuer: str,
    sealer: ReceiptSealer | None = None,
) -> str:
    """The storage key of the entry's receipt, making and storing it the first time."""
    if entry.receipt_key:
        return entry.receipt_key
    # Lock the row so two simultaneous first requests do not store two receipts.
    locked = session.scalars(
        select(ProtocolEntry)
        .where(ProtocolEntry.id == entry.id)
        .with_for_update(of=ProtocolEntry)
        .execution_options(populate_existing=True)
    ).one()
    if locked.receipt_key:
        return locked.receipt_key
    pdf = render_receipt(locked, issuer=issuer)
    if sealer is not None:
        pdf = sealer.seal_receipt(pdf, entry=locked)
    stored = store.put(
        io.BytesIO(pdf),
        content_type=RECEIPT_CONTENT_TYPE,
        metadata={"kind": "protocol-receipt", "protocol-entry": str(locked.id)},
    )
    record_object(session, stored, filename=receipt_filename(locked))
    locked.receipt_key = stored.key
    session.flush()
    return stored.key


def receipt_filename(entry: ProtocolEntry) -> str:
    """A file name people recognise, e.g. ``apodeixi-34933-2026.pdf``."""
    return f"apodeixi-{entry.book.code}-{entry.number}-{entry.year}.pdf"


def receipt_for(
    session: Session,
    store: ObjectStore,
    entry_id: object,
    viewer: Viewer,
    *,
    issuer: str,
    sealer: ReceiptSealer | None = None,
) -> tuple[str, str]:
    """(storage key, file name) of the receipt of an entry the viewer may see."""
    entry = session.get(ProtocolEntry, entry_id)
    if entry is None or not may_see(entry.classification, viewer.clearance):
        raise EntryNotFound(f"No protocol entry {entry_id}; check the id.")
    require_contents(session, entry, viewer)  # a receipt shows the subject and the sender
    return ensure_receipt(session, store, entry, issuer=issuer, sealer=sealer), receipt_filename(entry)


def receipt_for_sender(
    session: Session,
    store: ObjectStore,
    entry_id: object,
    *,
    issuer: str,
    sealer: ReceiptSealer | None = None,
) -> tuple[str, str]:
    """(storage key, file name) of a receipt asked for by the document's sender.

    No clearance check: the caller has verified the sender's signed receipt link, which
    only the sender received.
    """
    entry = session.get(ProtocolEntry, entry_id)
    if entry is None:
        raise EntryNotFound("This receipt link is not valid; ask the protocol office for a new one.")
    return ensure_receipt(session, store, entry, issuer=issuer, sealer=sealer), receipt_filename(entry)
