"""Streaming a stored object to the client: one helper for every download and inline view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal
from urllib.parse import quote

from flask import Response, request

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

    Stored files are people's documents: never kept in a browser's or proxy's cache (a
    town hall's shared computer), and shown inline only in a frame of our own pages.
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

    # No stream_with_context: the body needs nothing from the request, whose teardown then
    # runs (session closed, connection back in the pool) before the first byte is sent.
    response = Response(chunks(), mimetype=content_type)
    response.call_on_close(finish)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    if disposition == "inline":
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    if size is not None:
        response.headers["Content-Length"] = str(size)
    if filename:
        response.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(filename)}"
    return response


def stored_file_view(
    store: ObjectStore,
    key: str,
    *,
    content_type: str,
    filename: str,
    sha256: str,
    size: int | None = None,
) -> Response:
    """A stored file a page links to: shown inline, or downloaded when the link says
    ``?download=1``; streamed and checked against the SHA-256 recorded when it was stored."""
    return stream_object(
        store,
        key,
        content_type=content_type,
        filename=filename,
        disposition="attachment" if request.args.get("download") == "1" else "inline",
        expected_sha256=sha256,
        size=size,
    )
