"""Recording stored objects in the database, and the scrub that re-checks them all."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.base import IntegrityError, ObjectNotFound, ObjectStore, StorageError, StoredObject
from storage.models import StoredObjectRecord


def record_object(
    session: Session, stored: StoredObject, *, filename: str | None = None
) -> StoredObjectRecord:
    """Add the database record of an object just stored (in the caller's transaction)."""
    record = StoredObjectRecord(
        key=stored.key,
        version_id=stored.version_id,
        sha256=stored.sha256,
        size=stored.size,
        content_type=stored.content_type,
        filename=filename,
    )
    session.add(record)
    session.flush()
    return record


def store_file(
    session: Session,
    store: ObjectStore,
    stream: BinaryIO,
    *,
    content_type: str,
    filename: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> StoredObjectRecord:
    """Store a file and record it. If the transaction later rolls back, the object stays
    unreferenced (never half-written); a record never points at a missing object."""
    stored = store.put(stream, content_type=content_type, metadata=metadata)
    return record_object(session, stored, filename=filename)


@dataclass
class ScrubReport:
    """The outcome of re-reading every recorded object."""

    checked: int = 0
    bytes_read: int = 0
    missing: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every object was found intact."""
        return not (self.missing or self.altered or self.unreadable)


def count_records(session: Session) -> int:
    """How many objects the database records."""
    return session.scalar(select(func.count()).select_from(StoredObjectRecord)) or 0


def scrub(
    session: Session, store: ObjectStore, *, on_progress: Callable[[StoredObjectRecord], None] | None = None
) -> ScrubReport:
    """Re-read every recorded object and compare its SHA-256 with the database record."""
    report = ScrubReport()
    query = select(StoredObjectRecord).order_by(StoredObjectRecord.created_at, StoredObjectRecord.id)
    for record in session.scalars(query.execution_options(yield_per=500)):
        report.checked += 1
        try:
            with store.open(record.key, record.version_id, expected_sha256=record.sha256) as reader:
                report.bytes_read += reader.read_all_and_verify()
        except ObjectNotFound:
            report.missing.append(record.key)
        except IntegrityError:
            report.altered.append(record.key)
        except StorageError:
            report.unreadable.append(record.key)
        if on_progress is not None:
            on_progress(record)
    return report
