"""Object storage on MinIO or any S3 server, through the ``minio`` SDK.

The bucket is created with versioning, and with object lock where the server supports it,
so a stored record cannot be replaced or deleted. Small objects (up to one part) are hashed
before upload and sent with ``x-amz-checksum-sha256``, which the server verifies; larger ones
are streamed part by part and their SHA-256, known only at the end, is attached as a tag of
that exact version.
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, GOVERNANCE, Tags
from minio.error import S3Error
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig

from core.errors import ConfigurationError
from storage.base import (
    HashingReader,
    ListedObject,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
    StoredObject,
    TemporaryFile,
    VerifyingReader,
    validate_metadata,
)

#: Part size for multipart uploads: S3's minimum. The SDK holds about four copies of a part
#: while sending it, so this bounds an upload's memory (~20 MiB); with S3's 10,000 parts it
#: still allows objects of up to 48 GiB.
PART_SIZE = 5 * 1024 * 1024
SHA_KEY = "polis-sha256"
_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchVersion", "InvalidArgument", "NoSuchObject"}


def parse_s3_url(url: str) -> dict[str, Any]:
    """Split ``s3://key:secret@host:port/bucket?secure=false&region=...`` into its parts."""
    parts = urlsplit(url)
    bucket = parts.path.strip("/")
    example = "s3://ACCESS_KEY:SECRET@minio.example.gr:9000/polis?secure=true"
    if not parts.hostname or not bucket or "/" in bucket:
        raise ConfigurationError(f"POLIS_STORAGE_URL must name a host and one bucket, e.g. {example}.")
    if parts.username is None or parts.password is None:
        raise ConfigurationError(
            f"POLIS_STORAGE_URL must carry the access key and secret, e.g. {example} "
            "(percent-encode special characters)."
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"secure", "region"}
    if unknown:
        raise ConfigurationError(
            f"POLIS_STORAGE_URL has unknown options {sorted(unknown)}; only secure and region are understood."
        )
    secure_text = query.get("secure", "true").lower()
    if secure_text not in ("true", "false", "1", "0"):
        raise ConfigurationError("POLIS_STORAGE_URL: secure must be true or false.")
    if (
        not 3 <= len(bucket) <= 63
        or not bucket.replace("-", "").replace(".", "").isalnum()
        or not bucket.islower()
    ):
        raise ConfigurationError(
            f"POLIS_STORAGE_URL: {bucket!r} is not a valid bucket name (3 to 63 lower-case letters, "
            f"digits, '-' or '.'). Example: {example}"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"POLIS_STORAGE_URL has a bad port: {exc}. Example: {example}") from exc
    return {
        "endpoint": f"{parts.hostname}:{port}" if port else parts.hostname,
        "access_key": unquote(parts.username),
        "secret_key": unquote(parts.password),
        "bucket": bucket,
        "secure": secure_text in ("true", "1"),
        "region": query.get("region", "us-east-1"),
    }


def _new_key() -> str:
    now = datetime.now(UTC)
    return f"{now:%Y/%m/%d}/{uuid.uuid4().hex}"


class S3Store:
    """Immutable, versioned objects in one S3 bucket."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = True,
        region: str = "us-east-1",
        retention_days: int = 0,
        retention_mode: str = GOVERNANCE,
        create_bucket: bool = True,
    ) -> None:
        # Fail fast instead of retrying for minutes when the server is down.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
            maxsize=16,
        )
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self.bucket = bucket
        self.endpoint = endpoint
        self.secure = secure
        self.retention_days = retention_days
        self.retention_mode = retention_mode
        self.object_lock = False
        if create_bucket:
            self.ensure_bucket()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Store:
        """A store for a ``s3://`` URL (see :func:`parse_s3_url`)."""
        return cls(**parse_s3_url(url), **options)

    # Bucket ----------------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket (versioned, with object lock if possible) unless it exists."""
        try:
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket, object_lock=True)
                except S3Error as exc:
                    if exc.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        pass
                    else:
                        # Some S3 servers lack object lock: versioning alone still keeps history.
                        self.client.make_bucket(self.bucket)
            versioning = self.client.get_bucket_versioning(self.bucket)
            if versioning.status != ENABLED:
                self.client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))
            try:
                self.client.get_object_lock_config(self.bucket)
                self.object_lock = True
            except S3Error:
                self.object_lock = False
        except S3Error as exc:
            raise StorageUnavailable(
                f"Cannot prepare bucket {self.bucket!r} on {self.endpoint}: {exc.code} "
                f"({exc.message}). Check the access key's rights and the bucket name."
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(self._unreachable(exc)) from exc
        if self.retention_days and not self.object_lock:
            raise ConfigurationError(
                f"POLIS_STORAGE_RETENTION_DAYS={self.retention_days} needs object lock, but bucket "
                f"{self.bucket!r} was created without it. Create a new bucket with object lock "
                "enabled, or set POLIS_STORAGE_RETENTION_DAYS=0."
            )

    def _unreachable(self, exc: BaseException) -> str:
        return (
            f"Cannot reach the S3 server at {self.endpoint}: {exc}. Check that it runs and that "
            "POLIS_STORAGE_URL (host, port, secure=true|false) is right."
        )

    # Writing ---------------------------------------------------------------------------

    def put(
        self,
        stream: BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        retain: bool = True,
    ) -> StoredObject:
        """Upload a new object; the server checks small uploads' checksum itself."""
        clean = validate_metadata(metadata)
        key = _new_key()
        head = _read_up_to(stream, PART_SIZE + 1)
        try:
            if len(head) <= PART_SIZE:
                digest = hashlib.sha256(head).digest()
                sha = digest.hex()
                headers: dict[str, str | list[str] | tuple[str]] = {
                    **clean,
                    SHA_KEY: sha,
                    "x-amz-checksum-sha256": base64.b64encode(digest).decode(),
                }
                result = self.client.put_object(
                    self.bucket, key, io.BytesIO(head), len(head), content_type=content_type, metadata=headers
                )
                size = len(head)
            else:
                chained = _Chained(head, stream)
                del head  # only the stream keeps it, until its first part is sent
                reader = HashingReader(chained)
                result = self.client.put_object(
                    self.bucket,
                    key,
                    reader,  # type: ignore[arg-type]
                    -1,
                    content_type=content_type,
                    metadata=dict[str, str | list[str] | tuple[str]](clean),
                    part_size=PART_SIZE,
                    num_parallel_uploads=1,
                )
                sha, size = reader.hash.hexdigest(), reader.size
                tags = Tags(for_object=True)
                tags[SHA_KEY] = sha
                self.client.set_object_tags(self.bucket, key, tags, version_id=result.version_id)
            if retain:
                self._set_retention(key, result.version_id)
        except S3Error as exc:
            raise StorageError(
                f"The S3 server refused the upload: {exc.code} ({exc.message}). Nothing usable was "
                "stored; try again or check the bucket's settings."
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(self._unreachable(exc)) from exc
        return StoredObject(
            key=key,
            version_id=result.version_id,
            sha256=sha,
            size=size,
            content_type=content_type,
            metadata=clean,
        )

    def _set_retention(self, key: str, version_id: str | None) -> None:
        if self.retention_days:
            until = datetime.now(UTC) + timedelta(days=self.retention_days)
            self.client.set_object_retention(
                self.bucket, key, Retention(self.retention_mode, until), version_id=version_id
            )

    def retain(self, key: str, version_id: str | None = None) -> None:
        """Apply the configured retention to an object stored with ``retain=False``."""
        try:
            self._set_retention(key, version_id)
        except S3Error as exc:
            raise StorageError(f"The S3 server refused to retain {key}: {exc.code} ({exc.message}).") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(self._unreachable(exc)) from exc

    def discard(self, key: str, version_id: str | None = None) -> None:
        """Remove the version of an unreferenced object; object lock keeps retained ones."""
        try:
            self.client.remove_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            raise StorageError(f"The S3 server refused to remove {key}: {exc.code} ({exc.message}).") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(self._unreachable(exc)) from exc

    # Reading ---------------------------------------------------------------------------

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        """The object's size, type, metadata and recorded SHA-256."""
        try:
            info = self.client.stat_object(self.bucket, key, version_id=version_id)
            user = {
                name.lower().removeprefix("x-amz-meta-"): value
                for name, value in (info.metadata or {}).items()
                if name.lower().startswith("x-amz-meta-")
            }
            sha = user.pop(SHA_KEY, None)
            if sha is None:
                tags = self.client.get_object_tags(self.bucket, key, version_id=info.version_id)
                sha = tags.get(SHA_KEY) if tags else None
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES or exc.code == "NoSuchKey":
                raise ObjectNotFound(f"No object is stored under {key}.", key=key) from exc
            raise StorageError(f"Cannot read {key} from S3: {exc.code} ({exc.message}).") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(self._unreachable(exc)) from exc
        if sha is None:
            raise StorageError(
                f"Object {key} has no recorded SHA-256: it was not stored by Polis or its tag was "
                "removed. Compare it with the database record ('polis storage verify')."
            )
        return StoredObject(
            key=key,
            version_id=info.version_id,
            sha256=sha,
            size=info.size or 0,
            content_type=info.content_type or "application/octet-stream",
            metadata=user,
        )

    def exists(self, key: str, version_id: str | None = None) -> bool:
        """Whether the object (version) exists."""
        try:
            self.client.stat_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                return False
            raise StorageError(f"Cannot read {key} from S3: {exc.code} ({exc.message}).") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(self._unreachable(exc)) from exc
        return True

    def open(
        self, key: str, version_id: str | None = None, *, expected_sha256: str | None = None
    ) -> VerifyingReader:
        """Stream the object; the SHA-256 is checked when the end is reached."""
        expected = expected_sha256 or self.stat(key, version_id).sha256
        try:
            response = self.client.get_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                raise ObjectNotFound(f"No object is stored under {key}.", key=key) from exc
            raise StorageError(f"Cannot read {key} from S3: {exc.code} ({exc.message}).") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(self._unreachable(exc)) from exc
        return VerifyingReader(
            response,  # type: ignore[arg-type]
            expected_sha256=expected,
            key=key,
            close_callback=response.release_conn,
        )

    def url_for_download(
        self,
        key: str,
        expires: timedelta,
        *,
        version_id: str | None = None,
        filename: str | None = None,
    ) -> str:
        """A presigned GET URL (the S3 server checks it, not Polis)."""
        headers: dict[str, str | list[str] | tuple[str]] | None = None
        if filename:
            from urllib.parse import quote

            headers = {"response-content-disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}
        return self.client.presigned_get_object(
            self.bucket, key, expires=expires, version_id=version_id, response_headers=headers
        )

    # The orphan sweep -------------------------------------------------------------------

    def list_objects(self) -> Iterator[ListedObject]:
        """Every version of every object in the bucket."""
        try:
            for item in self.client.list_objects(self.bucket, recursive=True, include_version=True):
                if item.is_delete_marker or item.object_name is None:
                    continue
                stored_at = item.last_modified or datetime.now(UTC)
                yield ListedObject(item.object_name, item.version_id, stored_at)
        except S3Error as exc:
            raise StorageError(f"S3 refused to list {self.bucket!r}: {exc.code} ({exc.message}).") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(self._unreachable(exc)) from exc

    def retained_until(self, key: str, version_id: str | None = None) -> datetime | None:
        """The object-lock retain-until date, read from the object's headers."""
        try:
            info = self.client.stat_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion"):
                return None
            raise StorageError(f"S3 refused to describe {key}: {exc.code} ({exc.message}).") from exc
        value = (info.metadata or {}).get("x-amz-object-lock-retain-until-date")
        if not value:
            return None
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))

    def delete_unreferenced(self, key: str, version_id: str | None = None) -> None:
        """Delete the version itself (not a delete marker); object lock may refuse."""
        try:
            self.client.remove_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            raise StorageError(f"S3 refused to delete {key}: {exc.code} ({exc.message}).") from exc

    def list_temporary(self) -> Iterator[TemporaryFile]:
        """Nothing: S3 keeps no half-written object (set a lifecycle rule that aborts
        incomplete multipart uploads after a day)."""
        return iter(())

    def delete_temporary(self, name: str) -> None:
        """Nothing to delete (see :meth:`list_temporary`)."""

    # Health ----------------------------------------------------------------------------

    def check(self) -> None:
        """The server answers and the bucket exists."""
        try:
            if not self.client.bucket_exists(self.bucket):
                raise StorageUnavailable(f"Bucket {self.bucket!r} does not exist on {self.endpoint}.")
        except S3Error as exc:
            raise StorageUnavailable(f"S3 refused the health check: {exc.code} ({exc.message}).") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(self._unreachable(exc)) from exc

    def describe(self) -> str:
        """The endpoint and bucket, without credentials."""
        scheme = "https" if self.secure else "http"
        return f"s3+{scheme}://{self.endpoint}/{self.bucket}"


def _read_up_to(stream: BinaryIO, limit: int) -> bytes:
    """Read until ``limit`` bytes or end of stream (streams may return short reads)."""
    pieces: list[bytes] = []
    remaining = limit
    while remaining > 0:
        data = stream.read(remaining)
        if not data:
            break
        pieces.append(data)
        remaining -= len(data)
    return b"".join(pieces)


class _Chained:
    """Bytes already read, followed by the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head: io.BytesIO | None = io.BytesIO(head)
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head is None:
            return self._rest.read(size)
        data = self._head.read(size)
        if size < 0 or not data:
            self._head = None  # release the buffered first part as soon as it is consumed
            return data + self._rest.read(size)
        return data
