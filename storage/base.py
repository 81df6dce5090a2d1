"""The object-store interface every backend implements, and what it returns."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import BinaryIO, Protocol, runtime_checkable

from core.errors import Conflict, InvalidInput, NotFound, PolisError, ServiceUnavailable

#: Read and write in pieces of this size: a file never sits whole in memory.
CHUNK_SIZE = 1024 * 1024


class StorageError(PolisError):
    """Object storage failed in a way the caller cannot fix by changing input."""

    code = "storage"


class StorageUnavailable(ServiceUnavailable):
    """The object store cannot be reached or used right now."""


class ObjectNotFound(NotFound):
    """No object (or version) is stored under that key."""


class ObjectExists(Conflict):
    """An object is already stored under that key; stored objects are never overwritten."""


class IntegrityError(StorageError):
    """An object's bytes no longer match the SHA-256 recorded when it was stored."""

    code = "integrity"


class InvalidMetadata(InvalidInput):
    """Metadata keys or values that the store cannot keep."""


@dataclass(frozen=True)
class StoredObject:
    """What the store knows about one stored object (one version of it)."""

    key: str
    version_id: str | None
    sha256: str
    size: int
    content_type: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ListedObject:
    """An object as the store lists it (for the orphan sweep)."""

    key: str
    version_id: str | None
    stored_at: datetime


@dataclass(frozen=True)
class TemporaryFile:
    """A half-written upload left by a crash (a filesystem ``.part`` file)."""

    name: str
    stored_at: datetime


@runtime_checkable
class ObjectStore(Protocol):
    """Immutable object storage with checksums (filesystem or S3)."""

    def put(
        self,
        stream: BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        retain: bool = True,
    ) -> StoredObject:
        """Store ``stream`` under a new key we generate; SHA-256 is computed while writing.

        ``retain=False`` leaves the configured retention (object lock) off, for a file that is
        not yet a record (a held submission); :meth:`retain` applies it later.
        """
        ...

    def retain(self, key: str, version_id: str | None = None) -> None:
        """Apply the configured retention to an object stored with ``retain=False``."""
        ...

    def discard(self, key: str, version_id: str | None = None) -> None:
        """Remove an object no record keeps (a rolled-back upload); retained objects stay."""
        ...

    def open(
        self, key: str, version_id: str | None = None, *, expected_sha256: str | None = None
    ) -> VerifyingReader:
        """A streaming reader that raises IntegrityError at the end if the bytes changed."""
        ...

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        """What is recorded about the object; ObjectNotFound if there is none."""
        ...

    def exists(self, key: str, version_id: str | None = None) -> bool:
        """Whether the object (version) exists."""
        ...

    def url_for_download(
        self,
        key: str,
        expires: timedelta,
        *,
        version_id: str | None = None,
        filename: str | None = None,
    ) -> str:
        """A short-lived URL that lets anyone holding it download the object."""
        ...

    def check(self) -> None:
        """Raise StorageUnavailable if the store cannot be used now (health check)."""
        ...

    def describe(self) -> str:
        """A human description without secrets, e.g. ``s3://host:9000/bucket``."""
        ...

    # The orphan sweep (storage.orphans) -------------------------------------------------

    def list_objects(self) -> Iterator[ListedObject]:
        """Every object (version) in the store."""
        ...

    def retained_until(self, key: str, version_id: str | None = None) -> datetime | None:
        """Until when object lock forbids deleting the object (None: not retained)."""
        ...

    def delete_unreferenced(self, key: str, version_id: str | None = None) -> None:
        """Delete an object no database record points at (the orphan sweep only)."""
        ...

    def list_temporary(self) -> Iterator[TemporaryFile]:
        """Half-written uploads left by a crash."""
        ...

    def delete_temporary(self, name: str) -> None:
        """Delete one of :meth:`list_temporary`'s files."""
        ...


class VerifyingReader:
    """Wraps a byte stream; hashes as it is read and checks the SHA-256 at the end.

    The check happens when the stream is exhausted, so a reader that stops early (a byte
    range, a client that hangs up) is not falsely accused of corruption.
    """

    def __init__(
        self, raw: BinaryIO, *, expected_sha256: str, key: str, close_callback: object = None
    ) -> None:
        self._raw = raw
        self._expected = expected_sha256.lower()
        self._hash = hashlib.sha256()
        self._key = key
        self._done = False
        self._close_callback = close_callback

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes; at end of stream, verify the checksum."""
        data = self._raw.read(size)
        if data:
            self._hash.update(data)
        if (not data or size < 0) and not self._done:
            self._done = True
            actual = self._hash.hexdigest()
            if not hmac.compare_digest(actual, self._expected):
                raise IntegrityError(
                    f"Object {self._key} is corrupt: its SHA-256 is {actual} but {self._expected} "
                    "was recorded when it was stored. Restore it from a backup or a replica; "
                    "'polis storage verify' lists every damaged object.",
                    key=self._key,
                )
        return data

    def __iter__(self) -> VerifyingReader:
        return self

    def __next__(self) -> bytes:
        chunk = self.read(CHUNK_SIZE)
        if not chunk:
            raise StopIteration
        return chunk

    def read_all_and_verify(self) -> int:
        """Consume the whole stream (a scrub); returns the number of bytes read."""
        total = 0
        for chunk in self:
            total += len(chunk)
        return total

    def close(self) -> None:
        """Release the underlying stream or connection."""
        self._raw.close()
        if callable(self._close_callback):
            self._close_callback()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Readable(Protocol):
    """Anything with ``read(size)`` returning bytes: files, sockets, generated streams."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; empty at the end."""
        ...


class HashingReader:
    """Wraps an input stream, counting and hashing what passes through, with a size cap."""

    def __init__(self, raw: Readable, *, max_size: int | None = None) -> None:
        self._raw = raw
        self.hash = hashlib.sha256()
        self.size = 0
        self._max_size = max_size

    def read(self, size: int = -1) -> bytes:
        """Read from the wrapped stream, hashing and counting."""
        data = self._raw.read(size)
        if data:
            self.hash.update(data)
            self.size += len(data)
            if self._max_size is not None and self.size > self._max_size:
                raise InvalidInput(
                    f"The file is larger than the {self._max_size} bytes allowed here. Send a smaller file."
                )
        return data


def validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Metadata that every backend can keep: short ASCII keys, ASCII values (S3's rule)."""
    clean: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if not key or not key.replace("-", "").replace("_", "").isalnum() or not key.isascii():
            raise InvalidMetadata(
                f"Metadata key {key!r} is not allowed: use ASCII letters, digits, '-' and '_'."
            )
        if not isinstance(value, str) or not value.isascii() or "\n" in value:
            raise InvalidMetadata(
                f"Metadata value for {key!r} must be one line of ASCII text; percent-encode "
                "anything else (e.g. urllib.parse.quote)."
            )
        clean[key.lower()] = value
    if sum(len(k) + len(v) for k, v in clean.items()) > 1800:
        raise InvalidMetadata("Metadata is larger than 1,800 bytes; keep large data in the database.")
    return clean
