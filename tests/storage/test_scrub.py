"""`polis storage verify` finds every missing or altered object the database records."""

from __future__ import annotations

import io
import os

from click.testing import CliRunner
from sqlalchemy.orm import Session

from cli.main import main
from core.orm import make_engine, session_scope
from storage.filesystem import FilesystemStore
from storage.records import scrub, store_file


def test_scrub_reports_missing_and_altered_objects(
    db_session: Session, object_store: FilesystemStore
) -> None:
    intact = store_file(
        db_session, object_store, io.BytesIO(b"intact"), content_type="text/plain", filename="a.txt"
    )
    altered = store_file(db_session, object_store, io.BytesIO(b"original"), content_type="text/plain")
    missing = store_file(db_session, object_store, io.BytesIO(b"gone"), content_type="text/plain")
    path = object_store.root / "objects" / altered.key
    os.chmod(path, 0o644)
    path.write_bytes(b"modified")
    (object_store.root / "objects" / missing.key).unlink()

    seen = []
    report = scrub(db_session, object_store, on_progress=seen.append)
    assert report.checked == 3 == len(seen)
    assert report.altered == [altered.key]
    assert report.missing == [missing.key]
    assert not report.ok
    assert intact.key not in report.altered + report.missing


def test_verify_command_exit_status(fresh_db_url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("POLIS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("POLIS_STORAGE_URL", (tmp_path / "objects").as_uri())
    monkeypatch.setenv("POLIS_VAR_DIR", str(tmp_path / "var"))
    store = FilesystemStore(tmp_path / "objects", secret="s", base_url="http://polis.test")
    engine = make_engine(fresh_db_url)
    from sqlalchemy.orm import sessionmaker

    with session_scope(sessionmaker(bind=engine)) as session:
        key = store_file(session, store, io.BytesIO(b"record"), content_type="text/plain").key
    engine.dispose()

    ok = CliRunner().invoke(main, ["storage", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "All 1 objects intact" in ok.output

    path = tmp_path / "objects" / "objects" / key
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    bad = CliRunner().invoke(main, ["storage", "verify"])
    assert bad.exit_code == 2
    assert f"ALTERED  {key}" in bad.output
