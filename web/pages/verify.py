"""The public verification page of issued documents (``/verify/<code>``).

Anyone with the code (it is in the QR code on the document) sees the document's status and
may upload a copy: the page says whether it is the very same file (SHA-256) and whether its
signatures are valid. No sign-in; nothing is stored. Its JSON twin is web.api.verify.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from core.errors import InvalidInput
from engine.issuing.registry import MAX_COPY_BYTES, CopyCheck, UnknownVerificationCode, check_copy, lookup
from web.api.verify import bound_uploads, trust_roots, uploaded_copy
from web.context import db

bp = Blueprint("verify", __name__)
bp.before_request(bound_uploads)


@bp.route("/verify/<code>", methods=["GET", "POST"])
def page(code: str) -> tuple[str, int]:
    """The document's status; on POST, also the check of an uploaded copy."""
    try:
        document = lookup(db(), code)
    except UnknownVerificationCode as exc:
        raise UnknownVerificationCode(
            _("No document has this verification code. Check the code printed on the document.")
        ) from exc
    check: CopyCheck | None = None
    problem: str | None = None
    if request.method == "POST":
        try:
            check = check_copy(db(), code, uploaded_copy(), trust_roots())
        except InvalidInput as exc:
            problem = exc.message
    status = 422 if problem else 200
    html = render_template(
        "verify/document.html", document=document, check=check, problem=problem, max_bytes=MAX_COPY_BYTES
    )
    return html, status
