"""``/files/<key>``: downloads from the filesystem store through signed, expiring links.

S3 downloads never pass here: their presigned URLs point at the S3 server itself.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from storage import ObjectNotFound
from storage.filesystem import FilesystemStore
from web.context import services
from web.downloads import stream_object

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
        return stream_object(
            store, key, content_type=stored.content_type, filename=filename, size=stored.size
        )
    except ObjectNotFound:
        abort(404)
