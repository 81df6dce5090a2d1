"""Case files (φάκελος) as ZIP downloads: a request case's, an incoming document's.

The archive is streamed from storage as it is written; the engine checked who may export it.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from flask import Response

from engine.archive.bundle import stream_case_file
from engine.archive.casefile import CaseFilePlan, case_file_of_case, case_file_of_document
from web.context import db, services
from web.pages.staff.common import bp, staff_user


def _zip(plan: CaseFilePlan) -> Response:
    # The plan holds every record already: the ZIP needs only the store, not the request,
    # whose session is closed before the first byte (a long download holds no connection).
    response = Response(stream_case_file(plan, services().store), mimetype="application/zip")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(plan.filename)}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/cases/<uuid:case_id>/case-file.zip")
def case_file_download(case_id: uuid.UUID) -> Response:
    """Every document, version, task, protocol entry and audit event of a case, with a manifest."""
    return _zip(case_file_of_case(db(), case_id, staff_user()))


@bp.get("/documents/<uuid:document_id>/case-file.zip")
def document_case_file_download(document_id: uuid.UUID) -> Response:
    """The incoming document's file: entries, files, receipts, assignments, history, audit."""
    return _zip(case_file_of_document(db(), document_id, staff_user()))
