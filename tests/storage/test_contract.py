"""The object-store contract: every backend passes the same tests."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request
from datetime import timedelta

import pytest

from storage.base import IntegrityError, InvalidMetadata, ObjectExists, ObjectNotFound, ObjectStore
from storage.filesystem import FilesystemStore
from storage.s3 import PART_SIZE, S3Store


def _read(store: ObjectStore, key: str, version_id: str | None = None, **kwargs) -> bytes:
    with store.open(key, version_id, **kwargs) as reader:
        return b"".join(reader)


def test_put_returns_what_was_stored(store):
    payload = "Βεβαίωση μόνιμης κατοικίας".encode()
    stored = store.put(
        io.BytesIO(payload), content_type="text/plain; charset=utf-8", metadata={"case": "2026-000123"}
    )
    assert stored.sha256 == hashlib.sha256(payload).hexdigest()
    assert stored.size == len(payload)
    assert stored.content_type == "text/plain; charset=utf-8"
    assert _read(store, stored.key) == payload
    again = store.stat(stored.key)
    assert (again.sha256, again.size, again.content_type) == (stored.sha256, stored.size, stored.content_type)
    assert again.metadata["case"] == "2026-000123"
    assert store.exists(stored.key)


def test_keys_are_generated_never_taken_from_the_client(store):
    first = store.put(io.BytesIO(b"a"), content_type="text/plain", metadata={"filename": "..-..-etc-passwd"})
    second = store.put(io.BytesIO(b"a"), content_type="text/plain")
    assert first.key != second.key
    assert ".." not in first.key and "passwd" not in first.key


def test_empty_file(store):
    stored = store.put(io.BytesIO(b""), content_type="application/octet-stream")
    assert stored.size == 0
    assert _read(store, stored.key) == b""


def test_multipart_sized_upload_streams_and_verifies(store):
    payload = os.urandom(PART_SIZE * 2 + 12345)
    stored = store.put(io.BytesIO(payload), content_type="application/pdf")
    assert stored.sha256 == hashlib.sha256(payload).hexdigest()
    assert stored.size == len(payload)
    assert store.stat(stored.key).sha256 == stored.sha256
    assert _read(store, stored.key) == payload


def test_missing_object(store):
    with pytest.raises(ObjectNotFound):
        store.stat("2026/01/01/" + "0" * 32)
    assert not store.exists("2026/01/01/" + "0" * 32)
    with pytest.raises(ObjectNotFound):
        store.open("2026/01/01/" + "0" * 32)


def test_wrong_expected_checksum_is_an_integrity_error(store):
    stored = store.put(io.BytesIO(b"original"), content_type="text/plain")
    with pytest.raises(IntegrityError, match="is corrupt"):
        _read(store, stored.key, expected_sha256="0" * 64)


def test_tampered_bytes_are_detected(store):
    stored = store.put(io.BytesIO(b"the signed certificate"), content_type="application/pdf")
    if isinstance(store, FilesystemStore):
        path = store.root / "objects" / stored.key
        os.chmod(path, 0o644)
        path.write_bytes(b"the forged certificate")
        with pytest.raises(IntegrityError):
            _read(store, stored.key)
    else:
        assert isinstance(store, S3Store)
        # Someone with bucket access writes new bytes under the key: a new version appears.
        store.client.put_object(store.bucket, stored.key, io.BytesIO(b"forged"), 6)
        with pytest.raises(IntegrityError):
            _read(store, stored.key, expected_sha256=stored.sha256)
        # The version we recorded is still there, intact.
        assert _read(store, stored.key, stored.version_id) == b"the signed certificate"


def test_metadata_must_be_ascii(store):
    with pytest.raises(InvalidMetadata, match="ASCII"):
        store.put(io.BytesIO(b"x"), content_type="text/plain", metadata={"title": "Πιστοποιητικό"})
    with pytest.raises(InvalidMetadata):
        store.put(io.BytesIO(b"x"), content_type="text/plain", metadata={"bad key/": "x"})


def test_stopping_early_is_not_corruption(store):
    stored = store.put(io.BytesIO(b"0123456789" * 1000), content_type="text/plain")
    with store.open(stored.key) as reader:
        assert reader.read(10) == b"0123456789"


def test_download_url(store, app_for_store):
    stored = store.put(io.BytesIO(b"%PDF-1.7 certificate"), content_type="application/pdf")
    url = store.url_for_download(stored.key, timedelta(minutes=5), filename="βεβαίωση.pdf")
    if isinstance(store, FilesystemStore):
        client = app_for_store(store).test_client()
        response = client.get(url.removeprefix("http://polis.test"))
        assert response.status_code == 200
        assert response.data == b"%PDF-1.7 certificate"
        assert "UTF-8''%CE%B2" in response.headers["Content-Disposition"]
        forged = url.replace("sig=", "sig=x")
        assert client.get(forged.removeprefix("http://polis.test")).status_code == 404
    else:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b"%PDF-1.7 certificate"


def test_filesystem_objects_are_read_only_and_never_overwritten(tmp_path, monkeypatch):
    store = FilesystemStore(tmp_path / "objects", secret="s", base_url="http://polis.test")
    fixed = "2026/11/22/" + "a" * 32
    monkeypatch.setattr("storage.filesystem.new_key", lambda: fixed)
    first = store.put(io.BytesIO(b"first"), content_type="text/plain")
    assert oct((store.root / "objects" / first.key).stat().st_mode)[-3:] == "444"
    with pytest.raises(ObjectExists):
        store.put(io.BytesIO(b"second"), content_type="text/plain")
    assert _read(store, fixed) == b"first"
    assert list((store.root / "incoming").iterdir()) == []  # no leftovers


def test_s3_bucket_is_versioned_with_object_lock(request, tmp_path):
    from tests.storage.conftest import make_store

    store = make_store("s3-moto", tmp_path, request)
    assert store.client.get_bucket_versioning(store.bucket).status == "Enabled"
    assert store.object_lock


def test_s3_retention_is_applied_to_every_object(request, tmp_path):
    from tests.storage.conftest import make_store

    store = make_store("s3-moto", tmp_path, request, retention_days=30)
    stored = store.put(io.BytesIO(b"kept for 30 days"), content_type="text/plain")
    # moto does not implement GetObjectRetention; it does return the lock headers on HEAD.
    headers = store.client.stat_object(store.bucket, stored.key, version_id=stored.version_id).metadata
    assert headers["x-amz-object-lock-mode"] == "GOVERNANCE"
    assert headers["x-amz-object-lock-retain-until-date"].startswith(
        (__import__("datetime").datetime.now(__import__("datetime").UTC) + timedelta(days=30)).strftime(
            "%Y-%m-"
        )
    )
    from minio.error import S3Error

    with pytest.raises(S3Error):
        store.client.remove_object(store.bucket, stored.key, version_id=stored.version_id)


@pytest.mark.minio
def test_minio_compliance_retention_cannot_be_shortened(request, tmp_path):
    """moto lets COMPLIANCE retention be shortened; real S3 and MinIO refuse. MinIO-only."""
    from datetime import UTC, datetime

    from minio.commonconfig import COMPLIANCE
    from minio.error import S3Error
    from minio.retention import Retention

    from tests.storage.conftest import make_store

    store = make_store("s3-minio", tmp_path, request, retention_days=2, retention_mode=COMPLIANCE)
    stored = store.put(io.BytesIO(b"compliance"), content_type="text/plain")
    retention = store.client.get_object_retention(store.bucket, stored.key, version_id=stored.version_id)
    assert retention.mode == COMPLIANCE
    with pytest.raises(S3Error):
        store.client.set_object_retention(
            store.bucket,
            stored.key,
            Retention(COMPLIANCE, datetime.now(UTC) + timedelta(days=1)),
            version_id=stored.version_id,
        )


def test_unreachable_s3_is_a_clear_error():
    from storage.base import StorageUnavailable
    from tests.storage.conftest import free_port

    with pytest.raises(StorageUnavailable, match="Cannot reach the S3 server"):
        S3Store(
            endpoint=f"127.0.0.1:{free_port()}", access_key="a", secret_key="b", bucket="polis", secure=False
        )


def test_an_unreferenced_upload_can_be_discarded(store):
    stored = store.put(io.BytesIO(b"a rolled-back upload"), content_type="text/plain")
    store.discard(stored.key, stored.version_id)
    assert not store.exists(stored.key, stored.version_id)


def test_s3_retention_waits_for_retain_when_asked(request, tmp_path):
    from minio.error import S3Error

    from tests.storage.conftest import make_store

    store = make_store("s3-moto", tmp_path, request, retention_days=30)
    held = store.put(io.BytesIO(b"a held submission's file"), content_type="text/plain", retain=False)
    headers = store.client.stat_object(store.bucket, held.key, version_id=held.version_id).metadata
    assert "x-amz-object-lock-mode" not in headers
    store.retain(held.key, held.version_id)  # confirmed: now it is a record
    headers = store.client.stat_object(store.bucket, held.key, version_id=held.version_id).metadata
    assert headers["x-amz-object-lock-mode"] == "GOVERNANCE"
    with pytest.raises(S3Error):
        store.client.remove_object(store.bucket, held.key, version_id=held.version_id)
    dropped = store.put(io.BytesIO(b"never confirmed"), content_type="text/plain", retain=False)
    store.discard(dropped.key, dropped.version_id)
    assert not store.exists(dropped.key, dropped.version_id)
