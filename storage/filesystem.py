"""Object storage on a local filesystem (the default for small installs and ``make run``).

Layout under the root: ``objects/<key>`` holds the bytes and ``objects/<key>.meta.json``
what we know of them; both are written to ``incoming/`` first, flushed to disk, and then
linked into place, so a crash leaves either nothing or a complete object, never half of one.
``os.link`` fails if the target exists, which is what makes objects impossible to overwrite.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from storage.base import (
    CHUNK_SIZE,
    HashingReader,
    ListedObject,
    ObjectExists,
    ObjectNotFound,
    StorageUnavailable,
    StoredObject,
    TemporaryFile,
    VerifyingReader,
    validate_metadata,
)

_META_SUFFIX = ".meta.json"


def new_key() -> str:
    """A key we generate: date folders (to keep directories small) and a random name."""
    now = datetime.now(UTC)
    return f"{now:%Y/%m/%d}/{uuid.uuid4().hex}"


def _check_key(key: str) -> None:
    parts = key.split("/")
    if (
        len(parts) != 4
        or not all(part.isdigit() for part in parts[:3])
        or len(parts[3]) != 32
        or not all(ch in "0123456789abcdef" for ch in parts[3])
    ):
        raise ObjectNotFound(f"{key!r} is not a key this store issued.", key=key)


class FilesystemStore:
    """Immutable objects in a directory tree; downloads through signed app URLs."""

    def __init__(self, root: Path, *, secret: str, base_url: str) -> None:
        self.root = root
        self._objects = root / "objects"
        self._incoming = root / "incoming"
        self._secret = secret.encode()
        self._base_url = base_url.rstrip("/")
        try:
            self._objects.mkdir(parents=True, exist_ok=True)
            self._incoming.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(
                f"Cannot use {root} for object storage: {exc.strerror}. Make it writable or set "
                "POLIS_STORAGE_URL to another place (file:///path or s3://...)."
            ) from exc

    # Writing ---------------------------------------------------------------------------

    def put(
        self,
        stream: BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        retain: bool = True,
    ) -> StoredObject:
        """Stream into a temporary file, fsync, then link it into place read-only (the
        filesystem store has no retention: ``retain`` changes nothing)."""
        clean = validate_metadata(metadata)
        key = new_key()
        target = self._objects / key
        temp = self._incoming / f"{uuid.uuid4().hex}.part"
        reader = HashingReader(stream)
        try:
            with open(temp, "xb") as handle:
                while chunk := reader.read(CHUNK_SIZE):
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o444)
            stored = StoredObject(
                key=key,
                version_id=None,
                sha256=reader.hash.hexdigest(),
                size=reader.size,
                content_type=content_type,
                metadata=clean,
            )
            meta_temp = temp.with_suffix(".meta")
            with open(meta_temp, "x", encoding="utf-8") as handle:
                json.dump(
                    {
                        "sha256": stored.sha256,
                        "size": stored.size,
                        "content_type": content_type,
                        "metadata": clean,
                        "stored_at": datetime.now(UTC).isoformat(),
                    },
                    handle,
                )
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(meta_temp, 0o444)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Metadata first: an object file without its record would be unreadable.
            try:
                os.link(meta_temp, str(target) + _META_SUFFIX)
                os.link(temp, target)
            except FileExistsError as exc:
                raise ObjectExists(f"An object is already stored under {key}.", key=key) from exc
            self._fsync_dir(target.parent)
            return stored
        except OSError as exc:
            raise StorageUnavailable(
                f"Could not store the file in {self.root}: {exc.strerror}. Check free disk "
                "space and permissions; nothing was stored."
            ) from exc
        finally:
            temp.unlink(missing_ok=True)
            temp.with_suffix(".meta").unlink(missing_ok=True)

    def retain(self, key: str, version_id: str | None = None) -> None:
        """Nothing to do: the filesystem store has no retention (its files are read-only)."""
        _check_key(key)

    def discard(self, key: str, version_id: str | None = None) -> None:
        """Remove an unreferenced object and its record file."""
        _check_key(key)
        target = self._objects / key
        target.unlink(missing_ok=True)
        Path(str(target) + _META_SUFFIX).unlink(missing_ok=True)

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # Reading ---------------------------------------------------------------------------

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        """Read the object's record from its sidecar file."""
        _check_key(key)
        if version_id is not None:
            raise ObjectNotFound(f"The filesystem store keeps one version; {version_id!r} does not exist.")
        try:
            record = json.loads((self._objects / (key + _META_SUFFIX)).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"No object is stored under {key}.", key=key) from exc
        return StoredObject(
            key=key,
            version_id=None,
            sha256=record["sha256"],
            size=record["size"],
            content_type=record["content_type"],
            metadata=record.get("metadata", {}),
        )

    def exists(self, key: str, version_id: str | None = None) -> bool:
        """Whether both the object and its record are present."""
        try:
            self.stat(key, version_id)
        except ObjectNotFound:
            return False
        return (self._objects / key).exists()

    def open(
        self, key: str, version_id: str | None = None, *, expected_sha256: str | None = None
    ) -> VerifyingReader:
        """Stream the file; the SHA-256 is checked when the end is reached."""
        stored = self.stat(key, version_id)
        try:
            raw = open(self._objects / key, "rb")  # noqa: SIM115 - closed by the reader
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"The bytes of {key} are missing (its record exists).", key=key) from exc
        return VerifyingReader(raw, expected_sha256=expected_sha256 or stored.sha256, key=key)

    # The orphan sweep -------------------------------------------------------------------

    def list_objects(self) -> Iterator[ListedObject]:
        """Every object, also one whose sidecar or bytes alone survived a crash mid-put."""
        keys: dict[str, float] = {}
        for path in self._objects.glob("*/*/*/*"):
            name = path.name.removesuffix(_META_SUFFIX)
            key = "/".join([*path.relative_to(self._objects).parts[:3], name])
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            keys[key] = max(keys.get(key, 0.0), mtime)
        for key, mtime in sorted(keys.items()):
            yield ListedObject(key, None, datetime.fromtimestamp(mtime, UTC))

    def retained_until(self, key: str, version_id: str | None = None) -> datetime | None:
        """Files have no object lock (retention is an S3 feature)."""
        return None

    def delete_unreferenced(self, key: str, version_id: str | None = None) -> None:
        """Remove the object's bytes and sidecar."""
        _check_key(key)
        (self._objects / key).unlink(missing_ok=True)
        (self._objects / (key + _META_SUFFIX)).unlink(missing_ok=True)

    def list_temporary(self) -> Iterator[TemporaryFile]:
        """``.part`` and ``.meta`` files of puts that a crash interrupted."""
        for path in sorted(self._incoming.iterdir()):
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            yield TemporaryFile(path.name, datetime.fromtimestamp(mtime, UTC))

    def delete_temporary(self, name: str) -> None:
        """Remove one file from the incoming directory."""
        if "/" in name or name.startswith("."):
            raise ObjectNotFound(f"{name!r} is not a temporary file of this store.")
        (self._incoming / name).unlink(missing_ok=True)

    # Download links --------------------------------------------------------------------

    def url_for_download(
        self,
        key: str,
        expires: timedelta,
        *,
        version_id: str | None = None,
        filename: str | None = None,
    ) -> str:
        """A link to the app's ``/files/`` route, signed with the secret key, that expires."""
        self.stat(key, version_id)
        deadline = int(time.time() + expires.total_seconds())
        query = {"exp": str(deadline), "sig": self._signature(key, deadline, filename)}
        if filename:
            query["name"] = filename
        return f"{self._base_url}/files/{quote(key)}?{urlencode(query)}"

    def check_download_signature(self, key: str, deadline: int, signature: str, filename: str | None) -> bool:
        """Whether a ``/files/`` link is authentic and still valid."""
        if deadline < time.time():
            return False
        return hmac.compare_digest(self._signature(key, deadline, filename), signature)

    def _signature(self, key: str, deadline: int, filename: str | None) -> str:
        message = f"{key}\n{deadline}\n{filename or ''}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    # Health ----------------------------------------------------------------------------

    def check(self) -> None:
        """The directories exist and are writable, and the disk is not full."""
        if not os.access(self._incoming, os.W_OK) or not os.access(self._objects, os.W_OK):
            raise StorageUnavailable(f"{self.root} is not writable.")
        if shutil.disk_usage(self.root).free < 64 * 1024 * 1024:
            raise StorageUnavailable(f"Less than 64 MiB free on the disk of {self.root}.")

    def describe(self) -> str:
        """The root directory as a file URL."""
        return self.root.as_uri()
