"""The citizen portal in a browser: find a service, apply, correct a mistake, attach a file,
check the answers, submit, the receipt, a double submission; sign up and "My requests"; a
service that needs sign-in. Every page axe-checked in Greek and English; screenshots saved.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from core.orm import session_scope
from engine.notifications.models import Notification
from engine.people.models import Department, User
from engine.requests.models import PendingSubmission
from engine.workflow.commands import claim_task, complete_task
from engine.workflow.models import Case, CaseTask
from forms.catalogue import get_service
from tests.browser.conftest import DESK, PHONE, _new_page, axe_check
from tests.requests.anonymous import confirmation_token

Shoot = Callable[[Page, str], None]
#: A one-pixel PNG: the smallest file the id_copy attachment accepts.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def _axe_both_languages(page: Page) -> None:
    """axe-core on the page in Greek, then in English, then back to Greek."""
    axe_check(page)
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    axe_check(page)
    page.get_by_role("link", name="Ελληνικά").click()
    expect(page.locator("html")).to_have_attribute("lang", "el")


def _axe_both_languages_keeping_answers(page: Page, kept: str) -> None:
    """On a page of a posted form the language switch is a button of that form: the answers
    come along (``kept``, if given, is still on the page in English)."""
    axe_check(page)
    page.get_by_role("banner").get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    if kept:
        expect(page.locator("main")).to_contain_text(kept)
    axe_check(page)
    page.get_by_role("banner").get_by_role("button", name="Ελληνικά").click()
    expect(page.locator("html")).to_have_attribute("lang", "el")


def _fill_family_status(page: Page, afm: str, email: str) -> None:
    page.get_by_label("Επώνυμο", exact=True).fill("Παπαδοπούλου")
    page.get_by_label("Όνομα", exact=True).fill("Ελένη")
    page.get_by_label("Πατρώνυμο", exact=True).fill("Γεώργιος")
    page.get_by_label("ΑΦΜ", exact=True).fill(afm)
    page.get_by_label(re.compile("^Οδός")).fill("Χάληδων 12")
    page.get_by_label(re.compile("^Ταχυδρομικός κώδικας|^Τ\\.Κ\\.")).fill("73131")
    page.get_by_label(re.compile("^Πόλη")).fill("Χανιά")
    page.locator("#f-email").fill(email)
    page.locator("#f-birth_date").fill("1985-04-12")
    page.locator("#f-purpose").select_option("general")
    page.get_by_label("Ονοματεπώνυμο").fill("Ελένη Παπαδοπούλου")
    page.locator("[id='f-applicant.email']").fill(email)


def _wait_for_the_check(page: Page) -> None:
    """The anti-spam widget on "check your answers" solves its challenge by itself (a visitor
    who is not signed in); wait until it has, as a person reading the page would."""
    expect(page.locator("altcha-widget [data-state]")).to_have_attribute(
        "data-state", "verified", timeout=60_000
    )


def _confirm_by_email(page: Page, live_polis: SimpleNamespace, email: str) -> None:
    """Someone not signed in submitted: nothing is registered until they follow the emailed link."""
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Επιβεβαιώστε το email σας για να υποβληθεί η αίτηση"
    )
    assert _cases_of(live_polis, email) == 0
    with session_scope(live_polis.factory) as session:
        token = confirmation_token(session, email)
    page.goto(f"/citizen/confirm-request?token={token}")
    page.get_by_role("button", name="Υποβολή του αιτήματός μου").click()


def _cases_of(live_polis: SimpleNamespace, email: str) -> int:
    with session_scope(live_polis.factory) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Case).where(Case.applicant["email"].astext == email)
            )
            or 0
        )


@pytest.fixture(params=["desk", "phone"])
def any_page(request: pytest.FixtureRequest, browser: Browser, live_polis: SimpleNamespace) -> Iterator[Page]:
    """The journey at desk width (1280) and on a phone (390x844); fails on a JavaScript error."""
    tab = _new_page(browser, DESK if request.param == "desk" else PHONE, live_polis)
    yield tab
    errors = tab.js_errors  # type: ignore[attr-defined]
    tab.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_find_apply_correct_attach_submit_receipt_once(
    any_page: Page, shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    page = any_page
    email = f"eleni.{uuid.uuid4().hex[:8]}@example.gr"
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ηλεκτρονικές υπηρεσίες του δήμου")
    expect(page.get_by_role("heading", name="Παρακολούθηση αιτήματος")).to_be_visible()
    expect(page.get_by_role("banner").get_by_role("link", name="Είσοδος υπαλλήλων")).to_be_visible()
    _axe_both_languages(page)
    shoot(page, "home")

    # Searching without accents (and in capitals) finds the accented title.
    page.get_by_label("Αναζήτηση υπηρεσιών").fill("ΠΙΣΤΟΠΟΙΗΤΙΚΟ οικογενειακης")
    page.get_by_role("button", name="Αναζήτηση").click()
    expect(page.get_by_role("status")).to_contain_text("1 υπηρεσία")
    result = page.get_by_role("link", name="Πιστοποιητικό οικογενειακής κατάστασης")
    expect(result).to_be_visible()
    _axe_both_languages(page)
    shoot(page, "search-without-accents")
    result.click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Πιστοποιητικό οικογενειακής κατάστασης")
    expect(page.get_by_role("main")).to_contain_text("10 εργάσιμες ημέρες")
    _axe_both_languages(page)
    shoot(page, "start-page")
    page.get_by_role("button", name="Ξεκινήστε τώρα").click()

    # One mistake: an ΑΦΜ whose check digit is wrong.
    _fill_family_status(page, "090000046", email)
    shoot(page, "form-filled")
    page.get_by_role("button", name="Συνέχεια").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Υπάρχει πρόβλημα")
    expect(summary.get_by_role("link", name=re.compile("ΑΦΜ"))).to_be_visible()
    expect(page.locator("#f-afm-error")).to_contain_text("ψηφίο ελέγχου")
    expect(page.get_by_label("Επώνυμο", exact=True)).to_have_value("Παπαδοπούλου")  # nothing lost
    _axe_both_languages_keeping_answers(page, "")
    expect(page.get_by_label("Επώνυμο", exact=True)).to_have_value("Παπαδοπούλου")
    shoot(page, "form-with-error")
    summary.get_by_role("link", name=re.compile("ΑΦΜ")).click()
    expect(page.get_by_label("ΑΦΜ", exact=True)).to_be_focused()
    page.get_by_label("ΑΦΜ", exact=True).fill("090000045")
    page.get_by_role("button", name="Συνέχεια").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Ελέγξτε τις απαντήσεις")
    expect(page.get_by_role("main")).to_contain_text("090000045")
    expect(page.get_by_role("main")).to_contain_text("PDF, JPEG, PNG, έως 5 MB")
    _axe_both_languages_keeping_answers(page, "090000045")
    page.get_by_label("Αντίγραφο ταυτότητας ή διαβατηρίου").set_input_files(
        {"name": "taftotita.png", "mimeType": "image/png", "buffer": PNG}
    )
    _wait_for_the_check(page)
    shoot(page, "check-answers")
    fields = page.eval_on_selector(
        "form[data-upload-progress]",
        "f => Array.from(new FormData(f).entries()).filter(([k, v]) => typeof v === 'string')",
    )
    page.get_by_role("button", name="Υποβολή της αίτησης").dblclick()
    shoot(page, "confirm-by-email")
    _confirm_by_email(page, live_polis, email)

    expect(page.get_by_role("heading", level=1)).to_have_text("Η αίτησή σας υποβλήθηκε")
    receipt_url = page.url
    panel = page.locator(".panel")
    expect(panel).to_contain_text(re.compile(r"\d{4}/\d+"))
    expect(panel).to_contain_text("ΕΙΣ")
    expect(page.get_by_role("link", name="Κατεβάστε την απόδειξη πρωτοκόλλου (PDF)")).to_be_visible()
    _axe_both_languages(page)  # a GET page: the language switch keeps it
    shoot(page, "receipt")

    # The same form again (Back then Submit, or a reload that resends it): the same request.
    again = page.request.post(
        page.url.replace(urlparse(page.url).path, "/services/family_status/submit"),
        multipart=dict(fields)
        | {"attachments.id_copy": {"name": "taftotita.png", "mimeType": "image/png", "buffer": PNG}},
    )
    assert again.ok  # the same held (now confirmed) submission: no second request
    assert _cases_of(live_polis, email) == 1

    # The receipt is bookmarkable.
    page.goto(receipt_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Η αίτησή σας υποβλήθηκε")
    response = page.request.get(
        page.get_by_role("link", name=re.compile("απόδειξη")).get_attribute("href") or ""
    )
    assert response.ok and response.headers["content-type"] == "application/pdf"


def test_phone_in_english_a_missing_answer_and_a_wrong_file(phone_page: Page, shoot: Shoot) -> None:
    """The same pages in English on a phone (the form pages are POST answers: axe each here)."""
    page = phone_page
    page.goto("/lang/en?next=/services/family_status/apply")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("#f-last_name").fill("Papadopoulou")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("First name: required; please fill it in.")
    expect(page.locator("#f-last_name")).to_have_value("Papadopoulou")
    axe_check(page)
    shoot(page, "form-errors-english")
    for name, value in {
        "first_name": "Nikos",
        "father_name": "Georgios",
        "afm": "090000045",
        "street": "Chalidon 12",
        "postal_code": "73131",
        "city": "Chania",
        "email": "nikos@example.gr",
        "birth_date": "1980-01-31",
        "applicant.name": "Nikos Papadopoulos",
        "applicant.email": "nikos@example.gr",
    }.items():
        page.locator(f"[id='f-{name}']").fill(value)
    page.locator("#f-purpose").select_option("court")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check your answers")
    axe_check(page)
    page.get_by_label("Copy of identity card or passport").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"}
    )
    _wait_for_the_check(page)
    page.get_by_role("button", name="Submit the request").click()
    expect(page.get_by_role("alert")).to_contain_text("is not accepted; send PDF, JPEG, PNG")
    expect(page.get_by_role("main")).to_contain_text("090000045")  # the answers are still there
    axe_check(page)
    shoot(page, "wrong-file-english")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"


def test_track_box_by_case_number_and_email_and_forgotten_password(page: Page, shoot: Shoot) -> None:
    page.goto("/citizen/forgot")
    _axe_both_languages(page)
    page.get_by_label("Email").fill("someone@example.gr")
    page.get_by_role("button", name="Στείλτε μου τον σύνδεσμο").click()
    expect(page.get_by_role("status")).to_contain_text("Αν η διεύθυνση έχει λογαριασμό")
    axe_check(page)
    shoot(page, "forgotten-password")
    page.goto("/citizen/reset?token=from-the-email")
    _axe_both_languages(page)

    page.goto("/")
    page.get_by_text("Δεν έχετε κωδικό παρακολούθησης;").click()
    page.get_by_label("Αριθμός υπόθεσης").fill("2026/999999")
    page.get_by_label("Email που δώσατε στην αίτηση").fill("nobody@example.gr")
    page.get_by_role("button", name="Παρακολούθηση").click()
    expect(page.get_by_role("alert")).to_contain_text("Κανένα αίτημα")
    axe_check(page)
    shoot(page, "track-lookup-miss")


def _token_from_outbox(live_polis: SimpleNamespace, email: str) -> str:
    with session_scope(live_polis.factory) as session:
        body = session.scalars(
            select(Notification.body_text).where(
                Notification.recipient == email, Notification.template_key == "email_verification"
            )
        ).one()
    link = next(word for word in body.split() if "/citizen/verify?" in word)
    return unquote(parse_qs(urlparse(link).query)["token"][0])


def test_sign_in_required_then_sign_up_and_my_requests(
    any_page: Page, shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    page = any_page
    email = f"maria.{uuid.uuid4().hex[:8]}@example.gr"
    # First a request without an account (a service that allows it), confirmed by email.
    page.goto("/services/general_request/apply")
    page.get_by_label("Το αίτημά σας").fill("Ζητώ αντίγραφο της απόφασης για τη στάθμευση")
    page.get_by_label("Ονοματεπώνυμο").fill("Μαρία Κωνσταντίνου")
    page.locator("[id='f-applicant.email']").fill(email)
    page.get_by_role("button", name="Συνέχεια").click()
    _wait_for_the_check(page)
    page.get_by_role("button", name="Υποβολή της αίτησης").click()
    _confirm_by_email(page, live_polis, email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Η αίτησή σας υποβλήθηκε")
    earlier_case = page.locator(".panel__number").first.inner_text()

    # The catalogue says which services need sign-in; an anonymous attempt gets a way forward.
    page.goto("/services/nursery_enrolment")
    expect(page.get_by_role("main")).to_contain_text("Απαιτείται")
    page.get_by_role("button", name="Ξεκινήστε τώρα").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Συνδεθείτε για να συνεχίσετε")
    _axe_both_languages(page)
    shoot(page, "sign-in-needed")
    refused = page.request.post(
        f"{live_polis.url}/services/nursery_enrolment/submit", multipart={"_idem": str(uuid.uuid4())}
    )
    assert refused.status == 403

    page.get_by_role("link", name="Δημιουργία λογαριασμού").click()
    _axe_both_languages(page)
    page.get_by_label("Ονοματεπώνυμο").fill("Μαρία Κωνσταντίνου")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Κωδικός πρόσβασης", exact=True).fill("kalimera-2026")
    page.get_by_label("Κωδικός πρόσβασης ξανά").fill("kalimera-2026")
    shoot(page, "sign-up")
    page.get_by_role("button", name="Δημιουργία του λογαριασμού").click()
    expect(page.get_by_role("status")).to_contain_text(email)

    page.goto(f"/citizen/verify?token={_token_from_outbox(live_polis, email)}")
    page.get_by_role("button", name=re.compile("Επιβεβαίωση")).click()
    expect(page.get_by_role("main")).to_contain_text(email)
    axe_check(page)

    # Back to the form the citizen wanted, though the confirmation link came by email.
    page.get_by_role("main").get_by_role("link", name="Σύνδεση", exact=True).click()
    _axe_both_languages(page)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Κωδικός πρόσβασης").fill("kalimera-2026")
    shoot(page, "sign-in")
    page.get_by_role("button", name="Σύνδεση", exact=True).click()
    expect(page).to_have_url(re.compile("/services/nursery_enrolment/apply"))
    expect(page.get_by_role("main")).to_contain_text("Έχετε συνδεθεί ως Μαρία Κωνσταντίνου")

    page.goto("/services/general_request/apply")
    for field in page.locator("form.apply-form textarea, form.apply-form input[type=text]").all():
        if field.is_visible() and not field.input_value():
            field.fill("Σπασμένο φανάρι στην οδό Χάληδων")
    page.get_by_role("button", name="Συνέχεια").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ελέγξτε τις απαντήσεις")
    page.get_by_role("button", name="Υποβολή της αίτησης").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Η αίτησή σας υποβλήθηκε")
    case_number = page.locator(".panel__number").first.inner_text()

    page.get_by_role("banner").get_by_role("link", name="Οι αιτήσεις μου").click()
    expect(page.get_by_role("main")).to_contain_text(case_number)
    # ...and the one made before the account existed, confirmed from the same mailbox.
    expect(page.get_by_role("main")).to_contain_text(earlier_case)
    expect(page.get_by_role("main")).to_contain_text("Γενικό αίτημα")
    _axe_both_languages(page)
    shoot(page, "my-requests")
    page.get_by_role("banner").get_by_role("button", name=re.compile("Αποσύνδεση")).click()
    expect(page.get_by_role("banner").get_by_role("link", name="Σύνδεση")).to_be_visible()


def _staff(session: Any, department: str, role: str) -> User:
    users = session.scalars(
        select(User)
        .join(Department, User.department_id == Department.id)
        .where(Department.code == department)
    ).all()
    return next(u for u in users if role in u.roles)


def _staff_step(live_polis: SimpleNamespace, code: str, role: str, data: dict[str, Any]) -> None:
    """What a clerk or head does in the staff workspace: take the case's open task and decide."""
    with session_scope(live_polis.factory) as session:
        case = session.scalars(select(Case).where(Case.tracking_code == code)).one()
        task = session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).one()
        user = _staff(session, get_service(case.data["service_code"]).department, role)
        if task.role == "clerk":
            claim_task(session, task.task_id, user)
        complete_task(session, task.task_id, data, user)


def _reload_until(page: Page, text: str, seconds: float = 20.0) -> None:
    """Reload until ``text`` shows (the worker runs service tasks in the background)."""
    deadline = time.monotonic() + seconds
    while text not in page.locator("main").inner_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared on {page.url}"
        time.sleep(0.3)
        page.reload()


def test_tracking_through_a_document_request_to_the_certificate(
    any_page: Page, shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    page = any_page
    email = f"kostas.{uuid.uuid4().hex[:8]}@example.gr"
    page.goto("/services/family_status/apply")
    _fill_family_status(page, "090000045", email)
    page.get_by_role("button", name="Συνέχεια").click()
    page.get_by_label("Αντίγραφο ταυτότητας ή διαβατηρίου").set_input_files(
        {"name": "taftotita.png", "mimeType": "image/png", "buffer": PNG}
    )
    _wait_for_the_check(page)
    page.get_by_role("button", name="Υποβολή της αίτησης").click()
    _confirm_by_email(page, live_polis, email)
    page.get_by_role("link", name="Παρακολουθήστε την αίτησή σας").click()
    code = page.url.rsplit("/", 1)[1]

    # Done, current and ahead differ in words as well as in looks.
    current = page.locator(".timeline__item--current")
    expect(current).to_have_count(1)
    expect(current).to_contain_text("Τώρα")
    expect(current).to_contain_text("10 εργάσιμες ημέρες")
    expect(page.locator(".timeline__item--done").first).to_contain_text("Ολοκληρώθηκε")
    expect(page.locator(".timeline__item--next").last).to_contain_text("Ακολουθεί")
    _axe_both_languages(page)
    shoot(page, "tracking-submitted")

    _staff_step(
        live_polis, code, "clerk", {"decision": "ask_citizen", "requested_document": "Λογαριασμός ΔΕΚΟ"}
    )
    _reload_until(page, "Στείλτε το έως")
    with session_scope(live_polis.factory) as session:
        notice = session.scalars(
            select(Notification.body_text).where(
                Notification.recipient == email, Notification.template_key == "document_requested"
            )
        ).one()
    shown = re.search(r"Στείλτε το έως (\d\d/\d\d/\d{4})", page.locator("main").inner_text())
    assert shown and shown.group(1) in notice, "the page and the email give different dates"
    expect(page.locator(".timeline__item--current")).to_contain_text("Αναμένονται στοιχεία από εσάς")
    _axe_both_languages(page)
    shoot(page, "tracking-document-asked")

    page.get_by_label("Το έγγραφο που ζητήθηκε").set_input_files(
        {"name": "logariasmos.png", "mimeType": "image/png", "buffer": PNG}
    )
    page.get_by_role("button", name="Αποστολή του εγγράφου").click()
    expect(page.get_by_role("status")).to_contain_text("λάβαμε τα έγγραφά σας")
    axe_check(page)
    shoot(page, "tracking-document-sent")

    _staff_step(live_polis, code, "clerk", {"decision": "propose_approval", "note": "Εντάξει"})
    _staff_step(live_polis, code, "head", {"decision": "approve"})
    _reload_until(page, "Το έγγραφό σας είναι έτοιμο")
    main = page.get_by_role("main")
    expect(main).to_contain_text("ΕΙΣ")
    expect(main).to_contain_text("ΕΞ")
    expect(page.locator(".timeline__item--current")).to_have_count(0)
    _axe_both_languages(page)
    shoot(page, "tracking-issued")
    download = page.get_by_role("link", name="Λήψη του εγγράφου (PDF)")
    response = page.request.get(download.get_attribute("href") or "")
    assert response.ok and response.body().startswith(b"%PDF")

    page.get_by_role("link", name="Επαλήθευση του εγγράφου").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Επαλήθευση εγγράφου")
    _axe_both_languages(page)
    page.get_by_label(re.compile("Αντίγραφο του εγγράφου")).set_input_files(
        {"name": "copy.pdf", "mimeType": "application/pdf", "buffer": response.body()}
    )
    page.get_by_role("button", name="Έλεγχος").click()
    expect(page.get_by_role("main")).to_contain_text("Ίδιο αρχείο")
    axe_check(page)
    shoot(page, "verify-copy")
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the verification page scrolls sideways on a phone ({width} px)"


def test_an_expired_session_keeps_the_answers(page: Page, shoot: Shoot) -> None:
    page.goto("/services/family_status/apply")
    _fill_family_status(page, "090000045", "anna@example.gr")
    page.context.clear_cookies()  # the session (and its CSRF token) ended while the citizen typed
    page.get_by_role("button", name="Συνέχεια").click()
    expect(page.get_by_role("status")).to_contain_text("Η συνεδρία σας έληξε")
    expect(page.get_by_label("ΑΦΜ", exact=True)).to_have_value("090000045")
    expect(page.get_by_label("Επώνυμο", exact=True)).to_have_value("Παπαδοπούλου")
    axe_check(page)
    shoot(page, "session-expired")
    page.get_by_role("button", name="Συνέχεια").click()  # a fresh token came with the page
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ελέγξτε τις απαντήσεις")


def _held_for(live_polis: SimpleNamespace, email: str) -> int:
    with session_scope(live_polis.factory) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(PendingSubmission).where(PendingSubmission.email == email)
            )
            or 0
        )


def _to_the_check_page(page: Page, email: str) -> None:
    page.goto("/services/family_status/apply")
    _fill_family_status(page, "090000045", email)
    page.get_by_role("button", name="Συνέχεια").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ελέγξτε τις απαντήσεις")
    page.get_by_label("Αντίγραφο ταυτότητας ή διαβατηρίου").set_input_files(
        {"name": "taftotita.png", "mimeType": "image/png", "buffer": PNG}
    )


def test_the_anti_spam_check_solves_in_the_page_and_the_request_is_held(
    page: Page, shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    email = f"anna.{uuid.uuid4().hex[:8]}@example.gr"
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    _to_the_check_page(page, email)
    check = page.locator("#f-altcha")
    expect(check.get_by_role("heading")).to_have_text("Έλεγχος κατά των ανεπιθύμητων")
    _wait_for_the_check(page)
    expect(check).to_contain_text("Επαληθεύτηκε")  # the widget speaks Greek
    assert page.locator("input[name=altcha]").input_value()  # the solution goes with the form
    axe_check(page)
    shoot(page, "anti-spam-check-solved")
    page.get_by_role("button", name="Υποβολή της αίτησης").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Επιβεβαιώστε το email σας για να υποβληθεί η αίτηση"
    )
    assert _held_for(live_polis, email) == 1 and _cases_of(live_polis, email) == 0
    assert not blocked, blocked  # the widget and its worker load under the strict CSP


def test_without_javascript_the_form_says_so_and_is_held(
    browser: Any, shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    context = browser.new_context(
        java_script_enabled=False,
        base_url=live_polis.url,
        locale="el-GR",
        viewport={"width": 390, "height": 844},
    )
    page = context.new_page()
    try:
        email = f"petros.{uuid.uuid4().hex[:8]}@example.gr"
        _to_the_check_page(page, email)
        page.get_by_role("button", name="Υποβολή της αίτησης").click()  # neither solved nor said
        expect(page.locator("#f-altcha-error")).to_contain_text("Περιμένετε να ολοκληρωθεί ο έλεγχος")
        expect(page.get_by_role("alert")).to_contain_text("Υπάρχει πρόβλημα")
        assert _held_for(live_polis, email) == 0
        shoot(page, "no-javascript-check-refused")
        page.get_by_label("Αντίγραφο ταυτότητας ή διαβατηρίου").set_input_files(
            {"name": "taftotita.png", "mimeType": "image/png", "buffer": PNG}
        )
        page.get_by_label("Ο φυλλομετρητής μου δεν εκτελεί JavaScript").check()
        page.get_by_role("button", name="Υποβολή της αίτησης").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Επιβεβαιώστε το email σας για να υποβληθεί η αίτηση"
        )
        assert _held_for(live_polis, email) == 1 and _cases_of(live_polis, email) == 0
    finally:
        context.close()
