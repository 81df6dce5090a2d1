"""The orphan sweep: objects no database record points at, and half-written uploads.

Every upload is recorded (storage.records) in the transaction that uses it, so an object
without a record was stored by a transaction that never committed (a rolled-back
submission, a crashed worker, a retried seal). Objects younger than the grace period are
left alone: their transaction may still be running. Objects under S3 object-lock
retention are reported and kept until it ends: the sweep never shortens a retention.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.base import ObjectStore, StorageError
from storage.models import StoredObjectRecord

log = logging.getLogger(__name__)
#: Long enough for any transaction that stores files (a submission, a seal) to finish.
GRACE = timedelta(hours=1)


@dataclass
class OrphanReport:
    """What the sweep found and did."""

    orphans: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    retained: list[tuple[str, datetime]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    temporary: list[str] = field(default_factory=list)
    young: int = 0


def sweep_orphans(
    session: Session,
    store: ObjectStore,
    *,
    delete: bool,
    now: datetime | None = None,
    grace: timedelta = GRACE,
    on_progress: Callable[[str], None] | None = None,
) -> OrphanReport:
    """Find (and with ``delete``, remove) unrecorded objects and stale temporary files."""
    now = now or datetime.now(UTC)
    report = OrphanReport()
    for temporary in store.list_temporary():
        if now - temporary.stored_at < grace:
            continue
        report.temporary.append(temporary.name)
        if delete:
            store.delete_temporary(temporary.name)
    recorded = set(session.scalars(select(StoredObjectRecord.key)))
    for listed in store.list_objects():
        if on_progress is not None:
            on_progress(listed.key)
        if listed.key in recorded:
            continue
        if now - listed.stored_at < grace:
            report.young += 1
            continue
        until = store.retained_until(listed.key, listed.version_id)
        if until is not None and until > now:
            report.retained.append((listed.key, until))
            continue
        report.orphans.append(listed.key)
        if not delete:
            continue
        try:
            store.delete_unreferenced(listed.key, listed.version_id)
        except StorageError as exc:
            report.failed.append((listed.key, exc.message))
            continue
        report.deleted.append(listed.key)
    if report.deleted or report.temporary:
        log.info(
            "orphan sweep: deleted %d unrecorded object(s) and %d temporary file(s); %d kept under retention",
            len(report.deleted),
            len(report.temporary) if delete else 0,
            len(report.retained),
        )
    return report
