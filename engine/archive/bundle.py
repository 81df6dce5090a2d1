"""Writing a case file as a ZIP, streamed: each stored object is read from storage in chunks
and written into the archive as it comes, so memory stays flat whatever the files' sizes.

Every part's SHA-256 is computed from the bytes actually written; a stored object must match
the hash recorded when it was stored (storage.base.VerifyingReader raises otherwise, and the
download breaks instead of silently carrying a corrupt file). ``manifest.json`` (machine
readable) and ``index.html`` (for people, in Greek) come last, listing every part with its
hash, size and what it is.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from core.clock import ATHENS, utcnow
from engine.archive.casefile import CaseFilePlan, RecordPart, StoredPart
from storage import ObjectStore

#: How much of a stored object is read (and then written) at a time.
CHUNK_BYTES = 256 * 1024
MANIFEST = "manifest.json"
INDEX = "index.html"


class _Sink(io.RawIOBase):
    """A write-only, unseekable file: ZipFile writes into it, the generator drains it."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def stream_case_file(
    plan: CaseFilePlan, store: ObjectStore, *, now: datetime | None = None
) -> Iterator[bytes]:
    """The ZIP of ``plan``, in pieces of at most about CHUNK_BYTES (plus ZIP headers)."""
    sink = _Sink()
    made_at = (now or utcnow()).astimezone(ATHENS)
    stamp = made_at.timetuple()[:6]
    listed: list[dict[str, Any]] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for part in plan.parts:
            info = zipfile.ZipInfo(part.path, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            digest = hashlib.sha256()
            size = 0
            if isinstance(part, StoredPart):
                info.file_size = part.size  # known: ZIP64 is chosen up front for large files
                reader = store.open(part.storage_key, part.version_id, expected_sha256=part.sha256)
                try:
                    with archive.open(info, "w") as member:
                        # The last (empty) read checks the hash recorded when it was stored.
                        while chunk := reader.read(CHUNK_BYTES):
                            digest.update(chunk)
                            size += len(chunk)
                            member.write(chunk)
                            yield sink.drain()
                finally:
                    reader.close()
                listed.append(_entry(part, digest.hexdigest(), size, recorded=part.sha256))
            else:
                data = _json(part.data)
                digest.update(data)
                archive.writestr(info, data)
                listed.append(_entry(part, digest.hexdigest(), len(data)))
            yield sink.drain()
        manifest = {
            "title": plan.title,
            "reference": plan.reference,
            "made_at": made_at.isoformat(),
            "algorithm": "SHA-256",
            "items": listed,
        }
        archive.writestr(zipfile.ZipInfo(MANIFEST, date_time=stamp), _json(manifest), zipfile.ZIP_DEFLATED)
        archive.writestr(
            zipfile.ZipInfo(INDEX, date_time=stamp), _index(plan, listed, made_at), zipfile.ZIP_DEFLATED
        )
    yield sink.drain()


def _entry(
    part: StoredPart | RecordPart, sha256: str, size: int, recorded: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "path": part.path,
        "kind": part.kind,
        "sha256": sha256,
        "size": size,
        "description": part.description,
    }
    if isinstance(part, StoredPart):
        item.update(storage_key=part.storage_key, recorded_sha256=recorded, content_type=part.content_type)
    return item


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode("utf-8") + b"\n"


def _index(plan: CaseFilePlan, listed: list[dict[str, Any]], made_at: datetime) -> bytes:
    """A page a person opens in any browser: what is in the file, with each hash."""
    row = (
        '<tr><td><a href="{path}">{path}</a></td><td>{description}</td>'
        "<td>{size}</td><td><code>{sha}</code></td></tr>"
    )
    rows = "\n".join(
        row.format(
            path=html.escape(item["path"]),
            description=html.escape(item["description"]),
            size=item["size"],
            sha=item["sha256"],
        )
        for item in listed
    )
    page = f"""<!doctype html>
<html lang="el"><head><meta charset="utf-8"><title>{html.escape(plan.title)}</title></head>
<body>
<h1>{html.escape(plan.title)}</h1>
<p>Δημιουργήθηκε {made_at:%d/%m/%Y %H:%M} (ώρα Ελλάδας). Κάθε αρχείο του φακέλου με το αποτύπωμά του
SHA-256· το {MANIFEST} περιέχει τα ίδια σε μορφή JSON.</p>
<table>
<thead><tr><th>Αρχείο</th><th>Τι είναι</th><th>Μέγεθος (bytes)</th><th>SHA-256</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body></html>
"""
    return page.encode("utf-8")
