"""The portal's request form asks the same proof of work as the API before it holds anything:
no solution, a forged one or one used before is refused next to the form, in Greek, with the
answers kept and nothing held, stored or sent. A browser that runs no JavaScript may say so
and is held to stricter limits shared by every worker."""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.notifications.models import Notification
from engine.requests.models import PendingSubmission
from forms.catalogue import get_service
from forms.html_form import data_to_html
from storage.models import StoredObjectRecord
from tests.requests.anonymous import solve, solved_challenge
from tests.requests.conftest import PDF_BYTES, form

SERVICE = "family_status"
CSRF = "csrf-for-test"


def _held(session: Session) -> dict[str, int]:
    def count(model: Any) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    return {
        "held": count(PendingSubmission),
        "objects": count(StoredObjectRecord),
        "mail": count(Notification),
    }


def _post(client: Any, altcha: str | None = None, key: str | None = None, **extra: str) -> Any:
    """The "check your answers" page's submit, as the browser posts it."""
    with client.session_transaction() as session:
        session["_csrf"] = CSRF
    fields = data_to_html(get_service(SERVICE), form(SERVICE)) | {
        "applicant.name": "Ελένη Παπαδοπούλου",
        "applicant.email": "eleni@example.gr",
        "applicant.channel": "email",
        "delivery": "download",
        "_idem": key or str(uuid.uuid4()),
        "_csrf": CSRF,
        "_step": "check",
    }
    if altcha is not None:
        fields["altcha"] = altcha
    data: dict[str, Any] = fields | extra | {"attachments.id_copy": (io.BytesIO(PDF_BYTES), "id.pdf")}
    return client.post(
        f"/services/{SERVICE}/submit",
        data=data,
        content_type="multipart/form-data",
        headers={"Accept-Language": "el"},
    )


def _error_next_to_the_check(page: Any) -> str:
    html = page.get_data(as_text=True)
    found = re.search(r'id="f-altcha-error">(.*?)</p>', html, re.S)
    assert found, html[:2000]
    assert 'href="#f-altcha"' in html  # the error summary links to it
    assert "090000045" in html or "Παπαδοπούλου" in html  # the answers are still on the page
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def _forged(client: Any) -> str:
    payload = json.loads(base64.b64decode(solved_challenge(client)))
    payload["challenge"]["parameters"]["cost"] = 0  # cheaper work: the signature no longer matches
    return base64.b64encode(json.dumps(payload).encode()).decode()


def test_the_form_shows_the_widget_to_anonymous_visitors_only(client: Any, municipality: Session) -> None:
    with client.session_transaction() as session:
        session["_csrf"] = CSRF
    fields = data_to_html(get_service(SERVICE), form(SERVICE)) | {
        "applicant.name": "Ελένη",
        "applicant.email": "eleni@example.gr",
        "_csrf": CSRF,
    }
    page = client.post(f"/services/{SERVICE}/apply", data=fields).get_data(as_text=True)
    assert "<altcha-widget" in page and "/api/v1/requests/challenge" in page
    assert 'name="altcha_fallback" value="no-script"' in page  # inside <noscript>
    assert "/static/proof-of-work.js" in page and "<script>" not in page
    # One module graph: the widget, its Greek words, then the worker's registration (no race).
    served = client.get("/static/proof-of-work.js")
    script = served.get_data(as_text=True)
    served.close()
    imports = [line for line in script.splitlines() if line.startswith("import ")]
    assert imports == ['import "./vendor/altcha/altcha.min.js";', 'import "./vendor/altcha/el.js";']
    assert script.index("algorithms.set") > script.index('import "./vendor/altcha/el.js"')


@pytest.mark.parametrize("how", ["missing", "forged", "garbage", "reused"])
def test_a_submission_without_a_good_solution_is_refused_next_to_the_form(
    client: Any, municipality: Session, how: str
) -> None:
    altcha = {"missing": None, "forged": _forged(client), "garbage": "bm90IGpzb24=", "reused": None}[how]
    if how == "reused":
        altcha = solved_challenge(client)
        assert _post(client, altcha).status_code == 202  # held: confirm-your-email page
    before = _held(municipality)
    refused = _post(client, altcha)
    assert refused.status_code == 422
    message = _error_next_to_the_check(refused)
    expected = {
        "missing": "Περιμένετε να ολοκληρωθεί ο έλεγχος",
        "forged": "Ο έλεγχος κατά των ανεπιθύμητων δεν πέρασε",
        "garbage": "Ο έλεγχος κατά των ανεπιθύμητων δεν πέρασε",
        "reused": "έχει ήδη χρησιμοποιηθεί",
    }[how]
    assert expected in message
    assert _held(municipality) == before  # nothing held, no file stored, no email


def test_the_same_submission_sent_twice_may_carry_its_solution_again(
    client: Any, municipality: Session
) -> None:
    """A double click or a reload resends the form with its idempotency key and solution: the
    answer is the first one's, not an error, and still one hold."""
    key, payload = str(uuid.uuid4()), solved_challenge(client)
    assert _post(client, payload, key).status_code == 202
    before = _held(municipality)
    assert _post(client, payload, key).status_code == 202
    assert _held(municipality) == before


@pytest.fixture
def strict_app(test_settings: Any, session_factory: Any, object_store: Any) -> Any:
    from web.app import create_app

    settings = test_settings.model_copy(
        update={"submissions_without_script_per_address_day": 2, "submissions_without_script_per_hour": 4}
    )
    application = create_app(settings, session_factory=session_factory, store=object_store)
    application.config["TESTING"] = True
    return application


def test_without_javascript_the_page_holds_under_stricter_shared_limits(
    strict_app: Any, municipality: Session
) -> None:
    first, second = strict_app.test_client(), strict_app.test_client()
    first.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    second.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    answers = [_post(first, altcha_fallback="no-script") for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]  # two a day from one address
    assert "Πάρα πολλά αιτήματα από αυτή τη σύνδεση" in _error_next_to_the_check(answers[-1])
    assert int(answers[-1].headers["Retry-After"]) > 0
    held = _held(municipality)["held"]
    # ...and a ceiling for everyone together (a flood that rotates addresses).
    assert [_post(second, altcha_fallback="no-script").status_code for _ in range(2)] == [202, 429]
    assert _held(municipality)["held"] == held + 1
    # With the check solved, the ordinary limits apply.
    assert _post(second, solve(second.get("/api/v1/requests/challenge").get_json())).status_code == 202


def test_the_api_binds_a_solution_to_its_idempotency_key(client: Any, municipality: Session) -> None:
    """A retried API call (same Idempotency-Key) may resend its solution; another call may not."""
    body = {
        "service": "general_request",
        "form": {"text": "Σβηστός φανοστάτης στην οδό Χάληδων"},
        "applicant": {"name": "Ελένη Παπαδοπούλου", "email": "eleni@example.gr", "channel": "email"},
    }
    payload = solved_challenge(client)
    key = {"Idempotency-Key": "retry-0001-abcd"}
    first = client.post("/api/v1/requests", json=body | {"altcha": payload}, headers=key)
    assert first.status_code == 202, first.get_json()
    before = _held(municipality)
    retried = client.post("/api/v1/requests", json=body | {"altcha": payload}, headers=key)
    assert retried.status_code == 202 and retried.headers.get("Idempotent-Replayed") == "true"
    other = {"Idempotency-Key": "retry-0002-abcd"}
    refused = client.post("/api/v1/requests", json=body | {"altcha": payload}, headers=other)
    assert (refused.status_code, refused.get_json()["error"]) == (403, "challenge_failed")
    assert _held(municipality) == before
