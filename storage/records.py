"""Recording stored objects in the database, and the scrub that re-checks them all."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from storage.base import IntegrityError, ObjectNotFound, ObjectStore, StorageError, StoredObject
from storage.models import StoredObjectRecord

logger = logging.getLogger(__name__)


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
    retain: bool = True,
) -> StoredObjectRecord:
    """Store a file and record it in the session's transaction.

    If that transaction does not commit, the object is discarded when it ends (objects under
    retention cannot be and stay unreferenced; see ``retain``): a record never points at a
    missing object, and a refused or failed request leaves no file behind.
    """
    stored = store.put(stream, content_type=content_type, metadata=metadata, retain=retain)
    _discard_unless_committed(session, store, stored)
    return record_object(session, stored, filename=filename)


_UPLOADS = "polis_uncommitted_uploads"


def _discard_unless_committed(session: Session, store: ObjectStore, stored: StoredObject) -> None:
    """Remember an upload until the session's transaction ends: kept on commit, else discarded."""
    pending = session.info.get(_UPLOADS)
    if pending is None:
        pending = session.info[_UPLOADS] = []
        event.listen(session, "after_commit", _keep_uploads)
        event.listen(session, "after_transaction_end", _discard_uploads)
    pending.append((store, stored.key, stored.version_id))


def _keep_uploads(session: Session) -> None:
    # after_commit fires for savepoints too (e.g. begin_nested() in the outbox): only the
    # commit of the whole transaction keeps the uploads.
    if session.get_nested_transaction() is None:
        session.info.get(_UPLOADS, []).clear()


def _discard_uploads(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:  # a savepoint ends; the transaction goes on
        return
    uploads = session.info.get(_UPLOADS, [])
    while uploads:
        store, key, version_id = uploads.pop()
        try:
            store.discard(key, version_id)
        except StorageError:
            logger.warning("A rolled-back upload could not be discarded (kept by retention): %s", key)


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
