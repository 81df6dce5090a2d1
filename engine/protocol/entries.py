"""Registering, reading, cancelling and correcting protocol entries.

Services take a Session and never commit. Every check runs before the number is taken, so
refused input never consumes a number.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, make_transient_to_detached

from core.clock import ATHENS
from core.clock import utcnow as utc_now
from engine.people.models import Department
from engine.protocol.drafts import EntryDraft, FileRef
from engine.protocol.errors import (
    AlreadyCancelled,
    CorrectionOfCancelled,
    EntryNotFound,
    EntryRestricted,
    InvalidEntry,
    NotCleared,
    NotProtocolClerk,
    UnknownRegistry,
)
from engine.protocol.models import (
    GUARDED_MARKS,
    EntryAssignment,
    EntryFile,
    EntryPerson,
    EntryRelation,
    ProtocolEntry,
    Registry,
)
from engine.protocol.numbering import Clock, insert_numbered
from engine.protocol.visibility import Viewer, cleared_for, may_see_entry

#: Roles allowed to cancel entries.
CLERK_ROLES = frozenset({"protocol_clerk", "admin"})


def may_see(classification: str | None, clearance: Collection[str]) -> bool:
    """ΕΜΠ and ΠΔ entries are shown only to users cleared for that mark."""
    return cleared_for(classification, clearance)


def create_registry(session: Session, code: str, name_el: str, name_en: str) -> Registry:
    """Add a registry (e.g. one per directorate)."""
    if not code.strip() or len(code) > 32:
        raise InvalidEntry("A registry code needs 1 to 32 characters, e.g. ΔΤΥ.")
    if session.scalar(select(Registry.id).where(Registry.code == code.strip())) is not None:
        raise InvalidEntry(f"A registry with code {code.strip()!r} exists already; choose another code.")
    registry = Registry(code=code.strip(), name_el=name_el, name_en=name_en)
    session.add(registry)
    session.flush()
    return registry


def get_registry(session: Session, code: str) -> Registry:
    """The active registry with this code."""
    registry = session.scalars(
        select(Registry).where(Registry.code == code, Registry.is_active.is_(True))
    ).one_or_none()
    if registry is None:
        known = ", ".join(session.scalars(select(Registry.code).where(Registry.is_active.is_(True))))
        raise UnknownRegistry(
            f"There is no protocol registry with code {code!r}; use one of: {known}.",
            registry=code,
        )
    return registry


def register(
    session: Session,
    draft: EntryDraft,
    *,
    registered_by: Viewer | None = None,
    corrects: uuid.UUID | None = None,
    now: Clock | None = None,
) -> ProtocolEntry:
    """Register a document: validate everything, then take the number and insert, in one go.

    The registration time is the database's clock unless a ``now`` clock is injected (tests):
    app servers' clocks may drift, the legal time must not.
    """
    guarded = draft.classification in GUARDED_MARKS
    if guarded and registered_by is not None and draft.classification not in registered_by.clearance:
        raise NotCleared(
            f"You are not cleared for {draft.classification} documents; ask an"
            " administrator or let a cleared colleague register it."
        )
    _check_related(session, draft.related)
    units = _assigned_departments(session, draft.assign_to)
    if corrects is not None:
        original = _lock_for_correction(session, corrects)
        if original.is_cancelled:
            raise CorrectionOfCancelled(
                f"Entry {original.display_number} is cancelled and cannot be corrected;"
                " register a new document instead."
            )

    # Everything is built before the number is taken: the counter row stays locked from the
    # numbered insert to the commit, so the less happens in between, the faster numbering is.
    values = {
        "direction": draft.direction.value,
        "subject": draft.subject,
        "sender": draft.sender,
        "sender_reference": draft.sender_reference,
        "sender_date": draft.sender_date,
        "recipients": list(draft.recipients),
        "copies": list(draft.copies),
        "attachments_count": draft.attachments_count,
        "attachments_description": draft.attachments_description,
        "delivery_method": draft.delivery_method.value if draft.delivery_method else None,
        "document_type": draft.document_type,
        "classification": draft.classification.value if draft.classification else None,
        "case_id": draft.case_id,
        "case_number": draft.case_number,
        "registered_by_id": registered_by.id if registered_by is not None else None,
        "unit_id": registered_by.department_id if registered_by is not None else None,
        "corrects_id": corrects,
    }
    entry = ProtocolEntry(**values)
    row = insert_numbered(session, draft.registry, now() if now is not None else None, values)
    if row is None:
        get_registry(session, draft.registry)  # raises UnknownRegistry naming the known codes
        raise UnknownRegistry(f"The registry {draft.registry!r} is not in use; choose another.")
    entry.id, entry.registry_id, entry.year = row.id, row.registry_id, row.year
    entry.number, entry.registered_at = row.number, row.registered_at
    # The row exists already: attach the object as persistent without a second INSERT; the
    # columns not set here (generated ones, cancellation) load on first access.
    make_transient_to_detached(entry)
    session.add(entry)
    if draft.files:
        session.add_all(
            EntryFile(
                entry_id=entry.id,
                position=position,
                storage_key=ref.storage_key,
                sha256=ref.sha256,
                filename=ref.filename,
                size=ref.size,
                content_type=ref.content_type,
            )
            for position, ref in enumerate(draft.files)
        )
    if draft.related:
        session.add_all(EntryRelation(entry_id=entry.id, related_id=rid) for rid in draft.related)
    if units:
        by = registered_by.id if registered_by is not None else None
        session.add_all(
            EntryAssignment(entry_id=entry.id, department_id=unit, assigned_by_id=by) for unit in units
        )
    if draft.files or draft.related or units:
        session.flush()
    return entry


def _assigned_departments(session: Session, codes: Sequence[str]) -> list[uuid.UUID]:
    """The ids of the departments named by code; every unknown code is refused."""
    if not codes:
        return []
    rows = session.execute(select(Department.code, Department.id).where(Department.code.in_(codes)))
    found = {row.code: row.id for row in rows}
    missing = [code for code in codes if code not in found]
    if missing:
        raise InvalidEntry(
            f"assign_to: no department with code {', '.join(missing)}; use the codes of the"
            " organisation chart (e.g. DHM).",
            fields={"assign_to": "unknown: " + ", ".join(missing)},
        )
    return list(dict.fromkeys(found[code] for code in codes))


def assign(
    session: Session, entry_id: uuid.UUID, codes: Sequence[str], *, assigned_by: Viewer
) -> list[uuid.UUID]:
    """Assign an entry to more units (χρέωση); only someone who sees its contents may. Returns
    the newly assigned department ids (a unit assigned before is left as it is)."""
    entry = get_entry(session, entry_id, assigned_by)
    require_contents(session, entry, assigned_by)
    if not codes:
        raise InvalidEntry(
            "departments: name at least one department code.", fields={"departments": "required"}
        )
    wanted = _assigned_departments(session, codes)
    already = set(
        session.scalars(select(EntryAssignment.department_id).where(EntryAssignment.entry_id == entry_id))
    )
    new = [unit for unit in wanted if unit not in already]
    session.add_all(
        EntryAssignment(entry_id=entry_id, department_id=unit, assigned_by_id=assigned_by.id) for unit in new
    )
    session.flush()
    return new


def name_people(
    session: Session, entry_id: uuid.UUID, user_ids: Sequence[uuid.UUID], *, added_by: Viewer | None
) -> None:
    """Let these people see the entry's contents (named people of a classified entry)."""
    already = set(session.scalars(select(EntryPerson.user_id).where(EntryPerson.entry_id == entry_id)))
    new = [uid for uid in dict.fromkeys(user_ids) if uid not in already]
    by = added_by.id if added_by is not None else None
    session.add_all(EntryPerson(entry_id=entry_id, user_id=uid, added_by_id=by) for uid in new)
    if new:
        session.flush()


def require_contents(session: Session, entry: ProtocolEntry, viewer: Viewer) -> None:
    """Refuse acting on an entry whose contents the viewer may not see (see visibility.py)."""
    if not may_see_entry(session, entry, viewer):
        raise EntryRestricted(
            f"Entry {entry.display_number} is restricted to the registering office and the units it"
            " is assigned to; ask them to assign it to your unit."
        )


def attach_file(session: Session, entry_id: uuid.UUID, ref: FileRef) -> EntryFile:
    """Append a file to a registered entry (e.g. the signed document that bears its number).

    Files are append-only (a trigger refuses changing or deleting them): an outgoing document
    is numbered first, the number printed on it, then the signed file is attached here.
    A cancelled entry takes no new files.
    """
    entry = session.scalars(
        select(ProtocolEntry).where(ProtocolEntry.id == entry_id).with_for_update(of=ProtocolEntry)
    ).one_or_none()
    if entry is None:
        raise EntryNotFound(f"No protocol entry {entry_id}; check the id.")
    if entry.cancelled_at is not None:
        raise InvalidEntry(
            f"Entry {entry.display_number} is cancelled; register the document as a new entry.",
        )
    position = session.scalar(
        select(func.coalesce(func.max(EntryFile.position) + 1, 0)).where(EntryFile.entry_id == entry_id)
    )
    row = EntryFile(
        entry_id=entry_id,
        position=int(position or 0),
        storage_key=ref.storage_key,
        sha256=ref.sha256,
        filename=ref.filename,
        size=ref.size,
        content_type=ref.content_type,
    )
    session.add(row)
    session.flush()
    return row


def _check_related(session: Session, related: Sequence[uuid.UUID]) -> None:
    """Every 'σχετικό' must be a registered entry."""
    if not related:
        return
    found = set(session.scalars(select(ProtocolEntry.id).where(ProtocolEntry.id.in_(related))))
    missing = [str(rid) for rid in related if rid not in found]
    if missing:
        raise InvalidEntry(
            f"Related entries not found: {', '.join(missing)}. Check the ids, or register"
            " the related documents first.",
            fields={"related": "not found: " + ", ".join(missing)},
        )


def _lock_for_correction(session: Session, entry_id: uuid.UUID) -> ProtocolEntry:
    """The entry being corrected, share-locked so it cannot be cancelled meanwhile."""
    original = session.scalars(
        select(ProtocolEntry).where(ProtocolEntry.id == entry_id).with_for_update(read=True, of=ProtocolEntry)
    ).one_or_none()
    if original is None:
        raise EntryNotFound(f"No protocol entry {entry_id}; check the id.")
    return original


def correct(
    session: Session,
    entry_id: uuid.UUID,
    draft: EntryDraft,
    *,
    registered_by: Viewer | None = None,
    now: Clock | None = None,
) -> ProtocolEntry:
    """Register an ορθή επανάληψη: a new entry linked to the one it corrects, in its registry."""
    original = session.get(ProtocolEntry, entry_id)
    if original is None or (
        registered_by is not None and not may_see(original.classification, registered_by.clearance)
    ):
        raise EntryNotFound(f"No protocol entry {entry_id}; check the id.")
    if registered_by is not None:
        require_contents(session, original, registered_by)
    same_book = replace(draft, registry=original.book.code)
    return register(session, same_book, registered_by=registered_by, corrects=entry_id, now=now)


def cancel(
    session: Session,
    entry_id: uuid.UUID,
    *,
    reason: str,
    cancelled_by: Viewer,
    now: Clock = utc_now,
) -> ProtocolEntry:
    """Mark an entry cancelled; it keeps its number. A second cancellation is refused."""
    if not set(cancelled_by.roles) & CLERK_ROLES:
        raise NotProtocolClerk("Only the protocol office can cancel an entry; ask them.")
    if not reason or not reason.strip():
        raise InvalidEntry("reason: say why the entry is cancelled.", fields={"reason": "required"})
    entry = session.scalars(
        select(ProtocolEntry).where(ProtocolEntry.id == entry_id).with_for_update(of=ProtocolEntry)
    ).one_or_none()
    if entry is None or not may_see(entry.classification, cancelled_by.clearance):
        raise EntryNotFound(f"No protocol entry {entry_id}; check the id.")
    # No contents check: cancelling is the protocol office's book-keeping, whoever's entry it is.
    if entry.is_cancelled:
        assert entry.cancelled_at is not None
        raise AlreadyCancelled(
            f"Entry {entry.display_number} was already cancelled on"
            f" {entry.cancelled_at.astimezone(ATHENS):%d/%m/%Y %H:%M}; nothing to do."
        )
    entry.cancelled_at = now()
    entry.cancelled_by_id = cancelled_by.id
    entry.cancel_reason = reason.strip()
    session.flush()
    return entry


def get_entry(session: Session, entry_id: uuid.UUID, viewer: Viewer) -> ProtocolEntry:
    """One entry the viewer's clearance lets them know of; whether they may read its contents
    is :func:`engine.protocol.visibility.may_see_entry` (show :func:`describe_restricted` if not)."""
    entry = session.get(ProtocolEntry, entry_id)
    if entry is None or not may_see(entry.classification, viewer.clearance):
        raise EntryNotFound(f"No protocol entry {entry_id}; check the id.")
    return entry


def related_ids(session: Session, entry_id: uuid.UUID) -> list[uuid.UUID]:
    """The entries this one refers to."""
    return list(session.scalars(select(EntryRelation.related_id).where(EntryRelation.entry_id == entry_id)))


def describe_restricted(entry: ProtocolEntry) -> dict[str, Any]:
    """What staff outside the entry's units see: its number, date and direction, and that it is
    restricted — never the subject, parties, files, classification or case."""
    return {
        "id": str(entry.id),
        "display": f"{entry.number} {entry.direction} {entry.year}",
        "registry": entry.book.code,
        "year": entry.year,
        "number": entry.number,
        "direction": entry.direction,
        "registered_at": entry.registered_at.isoformat(),
        "registered_at_athens": entry.registered_at.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M:%S"),
        "restricted": True,
    }


def describe(
    entry: ProtocolEntry, related: Sequence[uuid.UUID] = (), units: Sequence[uuid.UUID] = ()
) -> dict[str, Any]:
    """A JSON-ready view of an entry (times in UTC ISO 8601 plus the Athens wall time)."""

    def stamp(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": str(entry.id),
        "display": entry.display_number,
        "registry": entry.book.code,
        "year": entry.year,
        "number": entry.number,
        "direction": entry.direction,
        "registered_at": stamp(entry.registered_at),
        "registered_at_athens": entry.registered_at.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M:%S"),
        "subject": entry.subject,
        "sender": entry.sender,
        "sender_reference": entry.sender_reference,
        "sender_date": entry.sender_date.isoformat() if entry.sender_date else None,
        "recipients": list(entry.recipients),
        "copies": list(entry.copies),
        "attachments_count": entry.attachments_count,
        "attachments_description": entry.attachments_description,
        "delivery_method": entry.delivery_method,
        "document_type": entry.document_type,
        "classification": entry.classification,
        "case_id": str(entry.case_id) if entry.case_id else None,
        "case_number": entry.case_number,
        "registered_by": str(entry.registered_by_id) if entry.registered_by_id else None,
        "corrects": str(entry.corrects_id) if entry.corrects_id else None,
        "related": [str(rid) for rid in related],
        "unit": str(entry.unit_id) if entry.unit_id else None,
        "assigned_to": [str(unit) for unit in units],
        "restricted": False,
        "cancelled": entry.is_cancelled,
        "cancelled_at": stamp(entry.cancelled_at),
        "cancel_reason": entry.cancel_reason,
        "files": [
            {
                "storage_key": f.storage_key,
                "sha256": f.sha256,
                "filename": f.filename,
                "size": f.size,
                "content_type": f.content_type,
            }
            for f in entry.files
        ],
    }
