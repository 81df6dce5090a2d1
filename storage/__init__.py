"""Object storage: the interface, its filesystem and S3 backends, and the choice between them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.errors import ConfigurationError
from core.settings import Settings
from storage.base import (
    IntegrityError,
    ObjectExists,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageUnavailable,
    StoredObject,
    VerifyingReader,
)

__all__ = [
    "IntegrityError",
    "ObjectExists",
    "ObjectNotFound",
    "ObjectStore",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "VerifyingReader",
    "open_store",
]


def open_store(settings: Settings) -> ObjectStore:
    """The object store ``POLIS_STORAGE_URL`` names (file storage under var/ by default)."""
    url = settings.effective_storage_url
    scheme = urlsplit(url).scheme
    if scheme == "file":
        from storage.filesystem import FilesystemStore

        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ConfigurationError(
                f"POLIS_STORAGE_URL={url} names a host; a file URL needs an absolute path, e.g. "
                "file:///srv/polis/objects."
            )
        return FilesystemStore(
            Path(unquote(parts.path)), secret=settings.secret(), base_url=settings.public_base_url
        )
    if scheme == "s3":
        from storage.s3 import S3Store

        return S3Store.from_url(
            url,
            retention_days=settings.storage_retention_days,
            retention_mode=settings.storage_retention_mode,
        )
    raise ConfigurationError(
        f"POLIS_STORAGE_URL={url}: use file:///path or s3://key:secret@host:port/bucket."
    )


def download_ttl(settings: Settings) -> timedelta:
    """How long download links live."""
    return timedelta(seconds=settings.download_url_ttl_seconds)
