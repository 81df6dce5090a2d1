"""``/files/<key>``: downloads from the filesystem store through signed, expiring links.

S3 downloads never pass here: their presigned URLs point at the S3 server itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from flask import Blueprint, Response, abort, request, stream_with_context

from storage import ObjectNotFound
from storage.filesystem import FilesystemStore
from web.services import services

bp = Blueprint("files", __name__)


@bp.get("/files/<path:key>")
def download(key: str) -> Response:
    """Stream the object if the link's signature is valid and not expired."""
    store = services().store
    if not isinstance(store, FilesystemStore):
        abort(404)
    try:
        deadline = int(request.args.get("exp", "0"))
    except ValueError:
        abort(404)
    filename = request.args.get("name")
    if not store.check_download_signature(key, deadline, request.args.get("sig", ""), filename):
        abort(404)
    try:
        stored = store.stat(key)
        reader = store.open(key)
    except ObjectNotFound:
        abort(404)

    def chunks() -> Iterator[bytes]:
        # A corrupt object raises IntegrityError at its end, after the headers are sent:
        # the server then breaks the connection, so the client sees a failed download
        # instead of a silently corrupt file.
        with reader:
            yield from reader

    response = Response(stream_with_context(chunks()), mimetype=stored.content_type)
    response.headers["Content-Length"] = str(stored.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if filename:
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response
