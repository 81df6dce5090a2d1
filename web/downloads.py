"""Streaming a stored object to the client: one helper for every download and inline view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal
from urllib.parse import quote

from flask import Response, stream_with_context

from storage import ObjectStore


def stream_object(
    store: ObjectStore,
    key: str,
    *,
    content_type: str,
    filename: str | None = None,
    disposition: Literal["attachment", "inline"] = "attachment",
    expected_sha256: str | None = None,
    size: int | None = None,
) -> Response:
    """A response that streams object ``key`` and always closes its reader.

    A corrupt object raises IntegrityError at its end, after the headers are sent: the
    server then breaks the connection, so the client sees a failed download instead of a
    silently corrupt file. The reader is closed also when the body is never read (a HEAD
    request, a client that hangs up).
    """
    reader = store.open(key, expected_sha256=expected_sha256)
    done = False

    def finish() -> None:
        nonlocal done
        if not done:
            done = True
            reader.close()

    def chunks() -> Iterator[bytes]:
        yield from reader
        finish()

    response = Response(stream_with_context(chunks()), mimetype=content_type)
    response.call_on_close(finish)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if size is not None:
        response.headers["Content-Length"] = str(size)
    if filename:
        response.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(filename)}"
    return response
