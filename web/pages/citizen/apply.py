"""A service's request form in three pages: the answers, then "check your answers" with the
documents to attach, then the receipt.

The answers travel in the pages themselves (hidden fields on the review page), so nothing is
kept on the server until the request is submitted, and a session that expired meanwhile
loses nothing (``keeps_draft``). The form carries an idempotency key made when it was first
shown: a double click, Back or a reload submits the same key, and the engine answers with
the request already made. Submission calls the same engine service as ``POST /api/v1/requests``,
so any step the engine adds for anonymous requests (an email confirmation, a challenge)
applies here too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from engine.requests import ApplicantInfo, IdempotencyKeyReused, SubmissionInvalid, Upload
from engine.requests.challenge import ChallengeFailed
from engine.requests.files import FileRejected
from engine.requests.pending import Held, receive_submission
from engine.requests.scanning import scanner_for
from engine.requests.submission import CHANNELS, SignInRequired, check_answers
from engine.requests.tracking import track
from forms.catalogue import get_service
from forms.html_form import answer_text, data_from_html, data_to_html, form_layout
from forms.services import Service
from web.api.requests import public_lookup
from web.auth.citizen import current_applicant
from web.context import db, services
from web.csrf import csrf_expired, keeps_draft
from web.pages.citizen.catalogue import locale
from web.pages.public import LANGUAGES
from web.submission_limits import (
    NO_SCRIPT,
    check_submission_limits,
    check_without_script,
    redeem_challenge,
)

bp = Blueprint("apply", __name__)

APPLICANT_FIELDS = ("applicant.name", "applicant.email", "applicant.phone", "applicant.channel")
#: Fields about the page itself, not answers: the token, the button pressed, which step it
#: was, whether it showed problems (switching language shows them again, translated).
#: ``altcha``/``altcha_fallback`` are the anti-spam check's, made afresh on every page.
_PAGE_FIELDS = ("_csrf", "action", "_step", "_had_errors", "altcha", "altcha_fallback")


@dataclass
class Answers:
    """What the citizen answered so far, as posted (strings) and as the engine takes it."""

    service: Service
    posted: dict[str, str]
    form: dict[str, Any]
    applicant: ApplicantInfo
    delivery: str
    key: str
    errors: dict[str, str] = field(default_factory=dict)

    def add_error(self, name: str, message: str) -> None:
        """Note a problem next to field ``name`` (several join into one message)."""
        self.errors[name] = f"{self.errors[name]} {message}" if name in self.errors else message


def _answers(service: Service) -> Answers:
    posted = {name: value for name, value in request.form.items() if name not in _PAGE_FIELDS}
    form = data_from_html(service, posted)
    account = current_applicant()
    channel = posted.get("applicant.channel") or "email"
    phone = posted.get("applicant.phone") or None
    if account is not None:
        applicant = ApplicantInfo(
            name=account.full_name,
            email=account.email,
            phone=phone or account.phone,
            channel=channel,
            locale=locale(),
            applicant_id=account.id,
        )
    else:
        applicant = ApplicantInfo(
            name=posted.get("applicant.name", ""),
            email=posted.get("applicant.email") or None,
            phone=phone,
            channel=channel,
            locale=locale(),
        )
    key = posted.get("_idem", "")
    if not 8 <= len(key) <= 255:
        key = str(uuid.uuid4())
    delivery = posted.get("delivery") or service.delivery[0]
    return Answers(service, posted | {"_idem": key}, form, applicant, delivery, key)


def _page(template: str, answers: Answers, status: int = 200, notice: str | None = None) -> tuple[str, int]:
    service = answers.service
    lang = locale()
    account = current_applicant()
    html = render_template(
        template,
        service=service,
        lang=lang,
        groups=form_layout(service, lang),
        values=answers.posted,
        form_values=data_to_html(service, answers.form),
        answers=answers,
        answer_text=answer_text,
        channels=CHANNELS,
        errors=answers.errors,
        notice=notice,
        account=account,
        proof_of_work=account is None or account.email_verified_at is None,
        values_fallback=request.form.get("altcha_fallback") == NO_SCRIPT,
    )
    return html, status


def _sign_in_needed(service: Service) -> tuple[str, int]:
    html = render_template(
        "citizen/apply/sign_in_needed.html",
        service=service,
        lang=locale(),
        back=url_for("apply.form", code=service.code),
    )
    return html, 403


@bp.get("/services/<code>/apply")
def form(code: str) -> Any:
    """The form, empty, with a new idempotency key."""
    service = get_service(code)
    if service.requires_sign_in and current_applicant() is None:
        return _sign_in_needed(service)
    answers = Answers(service, {"_idem": str(uuid.uuid4())}, {}, ApplicantInfo(""), service.delivery[0], "")
    return _page("citizen/apply/form.html", answers)


@bp.post("/services/<code>/apply")
@keeps_draft
def review(code: str) -> Any:
    """Check the answers; show them for review with the documents to attach, or the form again."""
    service = get_service(code)
    answers = _answers(service)
    if answers.applicant.applicant_id is None and service.requires_sign_in:
        return _sign_in_needed(service)
    if csrf_expired():
        notice = _("Your session expired, but your answers are kept. Check them and continue.")
        return _page("citizen/apply/form.html", answers, notice=notice)
    if request.form.get("action") == "edit":
        return _page("citizen/apply/form.html", answers)
    if request.form.get("action") == "language":  # the header's switch, answers kept
        if request.args.get("lang") in LANGUAGES:
            session["lang"] = request.args["lang"]
        if request.form.get("_step") == "check":
            return _page("citizen/apply/check.html", answers)
        if not request.form.get("_had_errors"):
            return _page("citizen/apply/form.html", answers)
    try:
        problems = check_answers(service.code, answers.form, answers.applicant, answers.delivery)
    except SignInRequired:
        return _sign_in_needed(service)
    for problem in problems:
        answers.add_error(problem.field or "_form", problem.message(locale()))
    if answers.errors:
        return _page("citizen/apply/form.html", answers, 422)
    if request.form.get("action") == "language":  # problems fixed meanwhile: stay on the form
        return _page("citizen/apply/form.html", answers)
    return _page("citizen/apply/check.html", answers)


def _uploads(service: Service) -> tuple[list[Upload], list[str]]:
    uploads, names = [], []
    for spec in service.attachments:
        for storage in request.files.getlist(f"attachments.{spec.key}"):
            if storage.filename:
                uploads.append(Upload(spec.key, storage.filename, storage.stream))  # type: ignore[arg-type]
                names.append(f"attachments.{spec.key}")
    return uploads, names


@bp.post("/services/<code>/submit")
@keeps_draft
def submit(code: str) -> Any:
    """Register the request (once per idempotency key) and go to its receipt."""
    service = get_service(code)
    answers = _answers(service)
    if answers.applicant.applicant_id is None and service.requires_sign_in:
        return _sign_in_needed(service)
    if csrf_expired():
        notice = _("Your session expired. Your answers are kept; attach the documents again and submit.")
        return _page("citizen/apply/check.html", answers, notice=notice)
    uploads, upload_fields = _uploads(service)
    settings = services().settings
    try:
        account = current_applicant()
        verified = account is not None and account.email_verified_at is not None
        if not verified:  # the same brakes as the API's anonymous submissions
            _check_proof_of_work(answers.key)
            check_submission_limits(email=answers.applicant.email, phone=answers.applicant.phone)
        result = receive_submission(
            db(),
            services().store,
            settings,
            service_code=service.code,
            form=answers.form,
            attachments=uploads,
            applicant=answers.applicant,
            email_verified=verified,
            idempotency_key=answers.key,
            source="web",
            scanner=scanner_for(settings.clamd_address),
            delivery=answers.delivery,
        )
    except SignInRequired:
        db().rollback()
        return _sign_in_needed(service)
    except ChallengeFailed as exc:
        db().rollback()
        answers.add_error("altcha", _challenge_message(exc.reason))
        return _page("citizen/apply/check.html", answers, 422)
    except TooManyRequests as exc:  # the answers stay; the message says what to do
        db().rollback()
        answers.add_error(
            "altcha",
            str(
                _(
                    "Too many requests from this connection or to this address for now. Try again"
                    " later, or sign in to submit without limits."
                )
            ),
        )
        html, status = _page("citizen/apply/check.html", answers, 429)
        wait = getattr(exc, "retry_after", None)
        return html, status, ({"Retry-After": str(wait)} if wait else {})
    except IdempotencyKeyReused:
        db().rollback()
        html = render_template("citizen/apply/already_sent.html", service=service, lang=locale())
        return html, 409
    except (SubmissionInvalid, FileRejected) as exc:
        db().rollback()
        return _invalid(answers, exc, upload_fields)
    if isinstance(result, Held):  # nothing registered until the emailed link is followed
        return render_template("citizen/apply/held.html", held=result, service=service, lang=locale()), 202
    response: Response = redirect(url_for("apply.receipt", code=result.tracking_code), code=303)
    return response


def _check_proof_of_work(submission_key: str) -> None:
    """The solved challenge the widget put in the form, or the stricter limits of a browser
    that said it runs no JavaScript (ChallengeFailed / 429 otherwise)."""
    payload = request.form.get("altcha", "")
    if not payload and request.form.get("altcha_fallback") == NO_SCRIPT:
        check_without_script()
    else:
        redeem_challenge(payload, submission_key)


def _challenge_message(reason: str) -> str:
    """Why the anti-spam check failed, in the reader's language, saying what to do."""
    if reason == "missing":
        message = _(
            "Wait for the anti-spam check to finish, then submit. If your browser does not run"
            " JavaScript, tick the box that says so."
        )
    elif reason == "used":
        message = _("This anti-spam check was used already. Let it run again, then submit.")
    elif reason == "expired":
        message = _("The anti-spam check expired. Let it run again, then submit.")
    else:
        message = _("The anti-spam check did not pass. Let it run again, then submit.")
    return str(message)


def _invalid(answers: Answers, exc: SubmissionInvalid | FileRejected, upload_fields: list[str]) -> Any:
    if isinstance(exc, FileRejected):
        answers.add_error(f"attachments.{exc.details.get('field', '')}", exc.message)
        return _page("citizen/apply/check.html", answers, 422)
    for problem in exc.errors:
        name = problem.field or "_form"
        if name.startswith("attachments["):  # attachments[3] -> the field that file came from
            index = int(name[len("attachments[") : name.index("]")])
            name = upload_fields[index] if index < len(upload_fields) else "_form"
        answers.add_error(name, problem.message(locale()))
    on_form = any(not name.startswith("attachments") for name in answers.errors)
    template = "citizen/apply/form.html" if on_form else "citizen/apply/check.html"
    return _page(template, answers, 422)


@bp.get("/requests/<code>/receipt")
@public_lookup
def receipt(code: str) -> str:
    """The confirmation page of a submitted request (bookmarkable: the tracking code is the key)."""
    case = track(db(), code)
    return render_template("citizen/apply/receipt.html", case=case, code=code, lang=locale())
