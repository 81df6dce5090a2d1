"""Files of a case: type sniffing, size-capped streaming into the store, and their records.

The type of an uploaded file is decided from its first bytes, never from its name or the
type the browser claims: an executable renamed ``.pdf`` is an executable.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from typing import BinaryIO, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from engine.requests.models import CaseFile
from storage import ObjectStore
from storage.records import store_file

#: How many leading bytes the sniffer looks at.
SNIFF_BYTES = 1024
#: A PDF ends with ``%%EOF`` within its last KiB (readers tolerate a little trailing junk).
PDF_TAIL_BYTES = 1024
OCTET_STREAM = "application/octet-stream"
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"MZ", "application/x-msdownload"),
    (b"\x7fELF", "application/x-executable"),
    (b"#!", "text/x-shellscript"),
    (b"PK\x03\x04", "application/zip"),
)


class FileRejected(InvalidInput):
    """An uploaded file that cannot be accepted (type, size, name or virus check)."""

    code = "file_rejected"


def sniff(head: bytes) -> str:
    """The content type the first bytes of a file show (application/octet-stream if unknown)."""
    for magic, content_type in _SIGNATURES:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    # At offset 0 only: readers tolerate the header anywhere in the first KiB, which lets an
    # HTML page with "%PDF-" in a comment pass as a PDF (a polyglot).
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return OCTET_STREAM


def pdf_tail_ok(stream: BinaryIO) -> bool:
    """Whether a stream that starts like a PDF also ends like one (``%%EOF`` in its last KiB).

    The stream is left at its start.
    """
    start = stream.tell()
    stream.seek(0, io.SEEK_END)
    end = stream.tell()
    stream.seek(max(start, end - PDF_TAIL_BYTES))
    tail = stream.read(PDF_TAIL_BYTES)
    stream.seek(start)
    return b"%%EOF" in tail


def sniff_stream(stream: BinaryIO) -> tuple[str, int]:
    """Sniff a seekable stream's type and measure its size; the stream is left at its start."""
    start = stream.tell()
    head = stream.read(SNIFF_BYTES)
    stream.seek(0, io.SEEK_END)
    size = stream.tell() - start
    stream.seek(start)
    kind = sniff(head)
    if kind == "application/pdf" and not pdf_tail_ok(stream):
        kind = OCTET_STREAM
    return kind, size


def add_case_file(
    session: Session,
    store: ObjectStore,
    case_id: uuid.UUID,
    kind: str,
    filename: str,
    content_type: str,
    data: BinaryIO | bytes,
    *,
    attachment_key: str | None = None,
    uploaded_by_applicant: bool = False,
    max_bytes: int | None = None,
) -> CaseFile:
    """Stream a file into the store and record it as a file of the case (caller's transaction)."""
    stream: BinaryIO = io.BytesIO(data) if isinstance(data, bytes) else data
    record = store_file(
        session,
        store,
        cast(BinaryIO, _Capped(stream, max_bytes)) if max_bytes is not None else stream,
        content_type=content_type,
        filename=filename,
    )
    case_file = CaseFile(
        id=uuid.uuid4(),
        case_id=case_id,
        kind=kind,
        attachment_key=attachment_key,
        filename=filename,
        content_type=content_type,
        size=record.size,
        sha256=record.sha256,
        object_key=record.key,
        stored_object_id=record.id,
        uploaded_by_applicant=uploaded_by_applicant,
    )
    session.add(case_file)
    session.flush()
    return case_file


def case_files(session: Session, case_id: uuid.UUID, kinds: Sequence[str] = ()) -> list[CaseFile]:
    """The case's files, oldest first (only ``kinds`` if given)."""
    query = select(CaseFile).where(CaseFile.case_id == case_id)
    if kinds:
        query = query.where(CaseFile.kind.in_(kinds))
    return list(session.scalars(query.order_by(CaseFile.created_at, CaseFile.id)))


def get_case_file(session: Session, file_id: uuid.UUID | str) -> CaseFile | None:
    """One file by id, or None."""
    try:
        key = file_id if isinstance(file_id, uuid.UUID) else uuid.UUID(str(file_id))
    except ValueError:
        return None
    return session.get(CaseFile, key)


class _Capped(io.RawIOBase):
    """A reader that refuses to pass more than ``limit`` bytes (sizes can lie or grow)."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        super().__init__()
        self._raw = raw
        self._limit = limit
        self._seen = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def read(self, size: int = -1) -> bytes:
        """Read, counting; refuse once past the limit."""
        data = self._raw.read(size)
        self._seen += len(data)
        if self._seen > self._limit:
            raise FileRejected(
                f"The file is larger than the {self._limit / 1048576:g} MB allowed; send a smaller one."
            )
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Read into ``buffer`` (io.RawIOBase protocol)."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
