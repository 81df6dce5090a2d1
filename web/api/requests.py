"""Citizens' requests over HTTP: the service catalogue, submission, tracking, supplied documents.

``POST /api/v1/requests`` takes ``multipart/form-data`` — a ``request`` part with the JSON
``{"service": code, "form": {...}, "applicant": {...}}`` and files named
``attachments.<kind>`` — or plain JSON for requests without files. An ``Idempotency-Key``
header makes a retry return the first answer (``Idempotent-Replayed: true``).

Everything under ``/api/v1/track/<code>`` is public: the code is the key. Unknown codes,
malformed ones and clients over the rate limit get the same 404, after the same time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import FileStorage

from core.errors import InvalidInput, NotFound
from engine.administration.services import offered_services
from engine.protocol.errors import EntryNotFound
from engine.requests import ApplicantInfo, Submission, Upload, track
from engine.requests.challenge import issue_challenge
from engine.requests.pending import Held, confirm_submission, receive_submission
from engine.requests.scanning import scanner_for
from engine.requests.supply import supply_documents
from engine.requests.tracking import Tracking, issued_document_file, issued_file, request_receipt
from engine.workflow.errors import CaseNotFound
from forms.catalogue import get_service
from web.api.input import json_object, parse_json_object
from web.auth.citizen import check_same_site_write, current_applicant
from web.context import db, services
from web.downloads import stream_object
from web.links import public_url
from web.ratelimit import SharedWindow, client_address
from web.submission_limits import check_submission_limits, redeem_challenge

bp = Blueprint("api_requests", __name__, url_prefix="/api/v1")
F = TypeVar("F", bound=Callable[..., Any])

LOOKUPS = SharedWindow("tracking_lookups", limit=120, window=60.0)
MISSES = SharedWindow("tracking_misses", limit=20, window=600.0)
_NOT_FOUND = "No request has this tracking code; check the link you received."


def public_lookup(view: F) -> F:
    """Rate-limit a tracking view and make every 'not found' look the same.

    No sleeping to a time floor (it held a synchronous worker thread for each bad code): an
    unknown, limited or malformed code costs the same fixed work as the start of a known
    one's lookup (the shared limiter's counters and one indexed query) and gets the same
    answer. Probing for valid codes by timing is moot: a 192-bit code cannot be guessed,
    and the misses are limited per client address across all workers and servers.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        client = client_address()
        try:
            if not LOOKUPS.hit_unless(client, guard=MISSES):  # one transaction for both
                raise CaseNotFound(_NOT_FOUND)
            try:
                return view(*args, **kwargs)
            except (CaseNotFound, EntryNotFound):
                MISSES.hit(client)
                raise
        except NotFound:
            raise CaseNotFound(_NOT_FOUND) from None

    return cast(F, wrapper)


# The catalogue ---------------------------------------------------------------------------


def _service_json(code: str, locale: str, full: bool) -> dict[str, Any]:
    service = get_service(code)
    body: dict[str, Any] = {
        "code": service.code,
        "title": service.title.en if locale == "en" else service.title.el,
        "description": service.description.en if locale == "en" else service.description.el,
        "fee_eur": str(service.fee_eur),
        "deadline_working_days": service.deadline_working_days,
        "validity_months": service.validity_months,
        "department": service.department,
    }
    if full:
        body["form"] = {"schema": service.form_schema, "ui": service.ui}
        body["attachments"] = [
            {
                "key": spec.key,
                "label": spec.label.en if locale == "en" else spec.label.el,
                "required": spec.required,
                "mime_types": list(spec.mime_types),
                "max_bytes": spec.max_bytes,
                "max_files": spec.max_files,
            }
            for spec in service.attachments
        ]
    return body


def _locale() -> str:
    return "en" if request.args.get("lang") == "en" else "el"


@bp.get("/services")
def services_list() -> Response:
    """The request types a citizen can submit."""
    return jsonify({"services": [_service_json(s.code, _locale(), False) for s in offered_services(db())]})


@bp.get("/services/<code>")
def service_detail(code: str) -> Response:
    """One request type with its form (JSON Schema + UI hints) and attachment rules."""
    return jsonify(_service_json(code, _locale(), True))


# Submission ------------------------------------------------------------------------------


_SUBMISSION_HINT = 'The request must be a JSON object: {"service": ..., "form": {...}, "applicant": {...}}.'


def _submission_body() -> dict[str, Any]:
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("request")
        if raw is None:
            raise InvalidInput(
                "The multipart request needs a part named 'request' with the JSON "
                '{"service": ..., "form": {...}, "applicant": {...}}.'
            )
        return parse_json_object(raw, "request", _SUBMISSION_HINT)
    if request.mimetype == "application/json":
        return json_object(_SUBMISSION_HINT)
    raise InvalidInput("Send multipart/form-data (with files) or application/json (without files).")


def _uploads(prefix: str) -> list[Upload]:
    uploads = []
    for field, storage in request.files.items(multi=True):
        if not field.startswith(prefix):
            raise InvalidInput(f"Unexpected file field {field[:40]!r}; name files '{prefix}<kind>'.")
        uploads.append(_upload(field.removeprefix(prefix), storage))
    return uploads


def _upload(key: str, storage: FileStorage) -> Upload:
    # werkzeug spools each part to a temporary file beyond 500 KB: memory stays small.
    return Upload(key=key, filename=storage.filename or "", stream=cast(Any, storage.stream))


def _applicant(body: dict[str, Any]) -> ApplicantInfo:
    given = body.get("applicant") or {}
    if not isinstance(given, dict):
        raise InvalidInput("'applicant' must be an object with name, email, phone, channel and locale.")
    account = current_applicant()
    if account is not None:
        check_same_site_write()  # the request will be filed under the citizen's account
        return ApplicantInfo(
            name=account.full_name,
            email=account.email,
            phone=given.get("phone") or account.phone,
            channel=str(given.get("channel") or account.preferred_channel),
            locale=str(given.get("locale") or account.preferred_locale),
            applicant_id=account.id,
        )
    return ApplicantInfo(
        name=str(given.get("name") or ""),
        email=given.get("email"),
        phone=given.get("phone"),
        channel=str(given.get("channel") or "email"),
        locale=str(given.get("locale") or "el"),
    )


@bp.get("/requests/challenge")
def challenge() -> Response:
    """A proof-of-work challenge (ALTCHA) to solve before an anonymous submission."""
    settings = services().settings
    response = jsonify(issue_challenge(settings.secret(), cost=settings.submission_challenge_cost))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/requests")
def submit() -> tuple[Response, int]:
    """Submit a request: 201 with the numbers for a signed-in citizen; 202 and a confirmation
    email for anyone else (after the proof-of-work check), where the service allows it."""
    body = _submission_body()
    service_code = body.get("service")
    if not isinstance(service_code, str) or not service_code:
        raise InvalidInput("Name the request type in 'service' (see GET /api/v1/services).")
    settings = services().settings
    applicant = _applicant(body)
    account = current_applicant()
    verified = account is not None and account.email_verified_at is not None
    if not verified:
        solution = body.get("altcha") or request.form.get("altcha")
        redeem_challenge(
            solution if isinstance(solution, str) else None, request.headers.get("Idempotency-Key")
        )
    check_submission_limits(email=applicant.email, phone=applicant.phone)
    result = receive_submission(
        db(),
        services().store,
        settings,
        service_code=service_code,
        form=body.get("form"),
        attachments=_uploads("attachments."),
        applicant=applicant,
        email_verified=verified,
        idempotency_key=request.headers.get("Idempotency-Key"),
        source="web" if body.get("source") == "web" else "api",
        scanner=scanner_for(settings.clamd_address),
    )
    if isinstance(result, Held):
        response = jsonify(result.as_dict())
        if result.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response, 202
    return _submitted(result)


@bp.post("/requests/confirm")
def confirm() -> tuple[Response, int]:
    """Follow the emailed confirmation link of a held submission: body ``{"token": "..."}``;
    201 with the numbers (200 and the same answer when repeated)."""
    hint = 'Send {"token": "..."} with the token of the link in the email.'
    token = json_object(hint).get("token")
    if not isinstance(token, str) or not token.strip():
        raise InvalidInput(hint)
    polis = services()
    return _submitted(confirm_submission(db(), polis.store, polis.settings, token))


def _submitted(result: Submission) -> tuple[Response, int]:
    answer = result.as_dict() | {
        "receipt_url": public_url("api_requests.receipt", code=result.tracking_code),
        "status_url": public_url("api_requests.tracking", code=result.tracking_code),
    }
    response = jsonify(answer)
    response.headers["Location"] = answer["status_url"]
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
        return response, 200
    return response, 201


# Tracking --------------------------------------------------------------------------------


def tracking_json(state: Tracking, code: str, locale: str) -> dict[str, Any]:
    """The public JSON of a case, with its links."""
    body = state.as_dict(locale)
    body["receipt_url"] = public_url("api_requests.receipt", code=code)
    body["certificate_url"] = None
    body["verify_url"] = None
    if state.certificate:
        body["certificate_url"] = public_url("api_requests.certificate", code=code)
        verification = state.certificate.get("verification_code")
        if verification:
            body["verify_url"] = public_url("verify.page", code=verification)
    for issued in body["issued_documents"]:
        issued["download_url"] = public_url(
            "api_requests.issued_document", code=code, file_id=issued["file_id"]
        )
        code_ = issued.get("verification_code")
        issued["verify_url"] = public_url("verify.page", code=code_) if code_ else None
    if state.action_required:
        body["action_required"] = dict(state.action_required) | {
            "upload_url": public_url("api_requests.supply", code=code)
        }
    return body


@bp.get("/track/<code>")
@public_lookup
def tracking(code: str) -> Response:
    """The public timeline of a request."""
    response = jsonify(tracking_json(track(db(), code), code, _locale()))
    response.headers["Cache-Control"] = "no-store"
    return response


def _object(key: str, filename: str, content_type: str, expected_sha256: str | None = None) -> Response:
    response = stream_object(
        services().store, key, content_type=content_type, filename=filename, expected_sha256=expected_sha256
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/track/<code>/receipt")
@public_lookup
def receipt(code: str) -> Response:
    """The protocol receipt (PDF) of the request's registration."""
    issuer = services().settings.municipality_name
    key, filename = request_receipt(db(), services().store, code, issuer=issuer)
    return _object(key, filename, "application/pdf")


@bp.get("/track/<code>/issued/<file_id>")
@public_lookup
def issued_document(code: str, file_id: str) -> Response:
    """A document issued to the applicant (an outgoing document addressed to the request)."""
    case_file = issued_document_file(db(), code, file_id)
    return _object(case_file.object_key, case_file.filename, case_file.content_type, case_file.sha256)


@bp.get("/track/<code>/certificate")
@public_lookup
def certificate(code: str) -> Response:
    """The sealed certificate, once issued."""
    case_file = issued_file(db(), code)
    return _object(case_file.object_key, case_file.filename, case_file.content_type, case_file.sha256)


@bp.post("/track/<code>/documents")
@public_lookup
def supply(code: str) -> tuple[Response, int]:
    """Send the documents the case waits for (multipart files named ``documents``, field ``note``)."""
    if request.mimetype != "multipart/form-data":
        raise InvalidInput(
            "Send the documents as multipart/form-data, each file in a part named 'documents'."
        )
    uploads = []
    for field, storage in request.files.items(multi=True):
        if field != "documents":
            raise InvalidInput(f"Unexpected file field {field[:40]!r}; name each file part 'documents'.")
        uploads.append(_upload("document", storage))
    result = supply_documents(
        db(),
        services().store,
        code,
        uploads,
        note=request.form.get("note", ""),
        idempotency_key=request.headers.get("Idempotency-Key"),
        scanner=scanner_for(services().settings.clamd_address),
    )
    response = jsonify(result.as_dict())
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
        return response, 200
    return response, 201
