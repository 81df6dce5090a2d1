"""The orphan sweep: objects stored by transactions that never committed, and .part files.

Runs against each backend (filesystem, moto's S3, a real MinIO when configured). A
recorded object is never touched; an unrecorded one younger than the grace period is left
for its transaction; one under object-lock retention is reported and kept.
"""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from storage.filesystem import FilesystemStore
from storage.orphans import GRACE, sweep_orphans
from storage.records import store_file
from tests.storage.conftest import make_store


def later() -> datetime:
    """A moment when objects stored now are past the grace period (computed when a test runs:
    a module constant went stale when the whole suite took longer than the margin)."""
    return datetime.now(UTC) + GRACE + timedelta(minutes=5)


def test_unrecorded_objects_are_reported_then_swept_and_recorded_ones_kept(
    store, db_session: Session
) -> None:
    kept = store_file(db_session, store, io.BytesIO(b"committed"), content_type="text/plain")
    orphan = store.put(
        io.BytesIO(b"rolled back"), content_type="text/plain"
    )  # its transaction never committed

    young = sweep_orphans(db_session, store, delete=True)  # now: its transaction may still run
    assert young.orphans == [] and young.young >= 1 and store.exists(orphan.key, orphan.version_id)

    report = sweep_orphans(db_session, store, delete=False, now=later())  # what `polis storage verify` shows
    assert report.orphans == [orphan.key] and report.deleted == []
    assert store.exists(orphan.key, orphan.version_id)

    swept = sweep_orphans(db_session, store, delete=True, now=later())  # `polis storage sweep`
    assert swept.deleted == [orphan.key]
    assert not store.exists(orphan.key, orphan.version_id)
    assert store.exists(kept.key, kept.version_id)
    assert sweep_orphans(db_session, store, delete=False, now=later()).orphans == []


def test_part_files_of_interrupted_uploads_are_swept(tmp_path: Path, db_session: Session) -> None:
    store = FilesystemStore(tmp_path / "objects", secret="s", base_url="http://polis.test")
    part = tmp_path / "objects" / "incoming" / "0123abcd.part"
    part.write_bytes(b"half an upload")  # the process died mid-write
    old = time.time() - GRACE.total_seconds() - 60
    os.utime(part, (old, old))
    fresh = tmp_path / "objects" / "incoming" / "4567cdef.part"
    fresh.write_bytes(b"an upload in progress")
    assert sweep_orphans(db_session, store, delete=False).temporary == ["0123abcd.part"]
    sweep_orphans(db_session, store, delete=True)
    assert not part.exists() and fresh.exists()


def test_an_orphan_under_retention_is_kept_until_it_ends(
    request: pytest.FixtureRequest, tmp_path: Path, db_session: Session
) -> None:
    store = make_store("s3-moto", tmp_path, request, retention_days=30)
    orphan = store.put(io.BytesIO(b"locked"), content_type="text/plain")
    report = sweep_orphans(db_session, store, delete=True, now=later())
    assert [key for key, _ in report.retained] == [orphan.key] and report.deleted == []
    assert store.exists(orphan.key, orphan.version_id)
    # Past the date by our clock but not the server's: the server refuses, the sweep says so.
    after = sweep_orphans(db_session, store, delete=True, now=later() + timedelta(days=31))
    assert [key for key, _ in after.failed] == [orphan.key] and store.exists(orphan.key, orphan.version_id)


def test_verify_reports_orphans_and_sweep_deletes_them(
    fresh_db_url: str, tmp_path: Path, monkeypatch
) -> None:
    from click.testing import CliRunner

    from cli.main import main

    monkeypatch.setenv("POLIS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("POLIS_STORAGE_URL", (tmp_path / "objects").as_uri())
    monkeypatch.setenv("POLIS_VAR_DIR", str(tmp_path / "var"))
    store = FilesystemStore(tmp_path / "objects", secret="s", base_url="http://polis.test")
    orphan = store.put(io.BytesIO(b"never committed"), content_type="text/plain")
    old = time.time() - GRACE.total_seconds() - 60
    for path in (tmp_path / "objects" / "objects").rglob("*"):
        os.utime(path, (old, old))

    verified = CliRunner().invoke(main, ["storage", "verify"])
    assert verified.exit_code == 0, verified.output
    assert f"ORPHAN  {orphan.key}" in verified.output and "polis storage sweep" in verified.output
    swept = CliRunner().invoke(main, ["storage", "sweep"])
    assert swept.exit_code == 0 and f"DELETED  {orphan.key}" in swept.output, swept.output
    assert not store.exists(orphan.key)
