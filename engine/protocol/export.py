"""The yearly register book, streamed row by row (constant memory) as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from core.clock import ATHENS
from engine.protocol.entries import get_registry
from engine.protocol.models import EntryRelation, ProtocolEntry, Registry

COLUMNS = (
    "registry",
    "year",
    "number",
    "display",
    "direction",
    "registered_at",
    "registered_at_athens",
    "subject",
    "sender",
    "sender_reference",
    "sender_date",
    "recipients",
    "copies",
    "attachments_count",
    "attachments_description",
    "delivery_method",
    "document_type",
    "classification",
    "case_number",
    "related",
    "corrects",
    "cancelled_at",
    "cancel_reason",
)
_BATCH = 1000


def count_book(session: Session, year: int, registry: str | None = None) -> int:
    """How many entries the book of ``year`` holds (one registry or all)."""
    statement = select(func.count()).select_from(ProtocolEntry).where(ProtocolEntry.year == year)
    if registry:
        statement = statement.where(ProtocolEntry.registry_id == get_registry(session, registry).id)
    return session.scalar(statement) or 0


def iter_book(session: Session, year: int, registry: str | None = None) -> Iterator[dict[str, Any]]:
    """Every entry of the year in registry and number order, as flat rows.

    A server-side cursor feeds the rows in batches, so memory stays flat on any size. The
    book is the legal register: classified entries are included (the command is for the
    protocol office and archive, who hold every clearance).
    """
    related = (
        select(func.string_agg(cast(EntryRelation.related_id, Text), " "))
        .where(EntryRelation.entry_id == ProtocolEntry.id)
        .scalar_subquery()
    )
    statement = (
        select(ProtocolEntry, Registry.code, related.label("related"))
        .join(Registry, Registry.id == ProtocolEntry.registry_id)
        .where(ProtocolEntry.year == year)
        .order_by(Registry.code, ProtocolEntry.number)
        .execution_options(yield_per=_BATCH)
    )
    if registry:
        statement = statement.where(ProtocolEntry.registry_id == get_registry(session, registry).id)
    for entry, code, related_ids in session.execute(statement):
        yield _row(entry, code, related_ids or "")
        session.expunge(entry)  # keep the identity map from growing with the book


def _row(entry: ProtocolEntry, code: str, related: str) -> dict[str, Any]:
    """One book line."""
    return {
        "registry": code,
        "year": entry.year,
        "number": entry.number,
        "display": entry.display_number,
        "direction": entry.direction,
        "registered_at": entry.registered_at.isoformat(),
        "registered_at_athens": entry.registered_at.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M:%S"),
        "subject": entry.subject,
        "sender": entry.sender or "",
        "sender_reference": entry.sender_reference or "",
        "sender_date": entry.sender_date.isoformat() if entry.sender_date else "",
        "recipients": "; ".join(entry.recipients),
        "copies": "; ".join(entry.copies),
        "attachments_count": entry.attachments_count,
        "attachments_description": entry.attachments_description or "",
        "delivery_method": entry.delivery_method or "",
        "document_type": entry.document_type or "",
        "classification": entry.classification or "",
        "case_number": entry.case_number or "",
        "related": related,
        "corrects": str(entry.corrects_id) if entry.corrects_id else "",
        "cancelled_at": entry.cancelled_at.isoformat() if entry.cancelled_at else "",
        "cancel_reason": entry.cancel_reason or "",
    }


def csv_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The rows as CSV text, header first, one line at a time."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        yield _drain(buffer)
        writer.writerow(row)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def json_chunks(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The rows as one JSON array, written piece by piece."""
    yield "["
    for index, row in enumerate(rows):
        yield ("\n" if index == 0 else ",\n") + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"
