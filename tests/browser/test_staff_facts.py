"""In chromium: the clerk corrects the certificate's facts (one mistake first), the session ends
while the decision form is filled in and comes back filled after sign-in, the head sees the
corrections in the queue and on the approval page, and the sealed certificate states them."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from types import SimpleNamespace

from playwright.sync_api import Page, expect

from engine.people.demo import DEMO_PASSWORD
from tests.browser.conftest import axe_check, open_task_id, sign_in, submit_certificate_request
from tests.browser.test_staff_journey import sealed_certificate, wait_for

Shoot = Callable[[Page, str], None]
VERIFIED_SURNAME = "Παπαδοπούλου-Κωστή"


def test_clerk_corrects_facts_keeps_the_form_over_an_ended_session_head_sees_corrections(
    page: Page, new_page: Callable[..., Page], shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    submission = submit_certificate_request(live_polis)
    number = submission.case_number
    task_url = f"/work/tasks/{open_task_id(live_polis, submission.case_id)}"
    sign_in(page, "ypallilos")
    page.goto(task_url)
    page.get_by_role("button", name="Ανάληψη της εργασίας").click()
    facts = page.get_by_role("region", name="Τι θα βεβαιώνει το πιστοποιητικό")
    expect(facts.locator("#f-fact_last_name")).to_have_value("Παπαδοπούλου")

    # One mistake first: the tax number fails its check digit; nothing is saved, nothing lost.
    facts.locator("#f-fact_last_name").fill(VERIFIED_SURNAME)
    facts.locator("#f-fact_afm").fill("123456789")
    facts.get_by_role("button", name="Αποθήκευση διορθώσεων").click()
    expect(page.get_by_role("alert")).to_contain_text("Υπάρχει πρόβλημα")
    expect(page.locator("#f-fact_afm-error")).to_contain_text("ΑΦΜ")
    expect(page.locator("#f-fact_last_name")).to_have_value(VERIFIED_SURNAME)
    axe_check(page)
    shoot(page, "clerk-facts-error")
    page.locator("#f-fact_afm").fill("090000045")
    page.get_by_role("button", name="Αποθήκευση διορθώσεων").click()
    expect(page.get_by_role("status")).to_contain_text("Διορθώθηκαν: Επώνυμο")
    expect(page.get_by_role("region", name="Ιστορικό")).to_contain_text(
        f"διόρθωσε «Επώνυμο»: Παπαδοπούλου → {VERIFIED_SURNAME}"
    )
    expect(page.locator("#f-fact_last_name")).to_have_value(VERIFIED_SURNAME)
    expect(page.locator("#f-fact_last_name-hint")).to_contain_text("Ο αιτών έγραψε: Παπαδοπούλου")
    preview = page.get_by_role("img", name=re.compile("Πιστοποιητικό \\(προεπισκόπηση\\)"))
    preview.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=preview.element_handle())
    axe_check(page)
    shoot(page, "clerk-facts-corrected")
    # The preview is the certificate as it will be issued: it states the corrected surname.
    pdf = page.request.get(
        page.get_by_role("link", name=re.compile("Λήψη.*Πιστοποιητικό \\(προεπισκόπηση\\)")).get_attribute(
            "href"
        )
        or ""
    ).body()
    assert VERIFIED_SURNAME in _text(pdf)

    # The decision is filled in, then the session ends (the cookie expired) before Submit.
    page.get_by_label("Πρόταση έγκρισης").check()
    page.get_by_label("Σημείωση για τον φάκελο").fill("Επώνυμο κατά το Δημοτολόγιο.")
    page.get_by_label(re.compile("Έλεγξα τα στοιχεία")).check()
    page.context.clear_cookies()
    page.get_by_role("button", name="Υποβολή").click()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert "Δημοτολόγιο" not in page.url  # what was typed never travels in the address
    page.get_by_label("Όνομα χρήστη").fill("ypallilos")
    page.get_by_label("Κωδικός").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Σύνδεση").click()
    expect(page).to_have_url(re.compile(re.escape(task_url) + "$"))
    expect(page.locator("#kept-form-notice")).to_contain_text("ελέγξτε τα και υποβάλετε ξανά")
    expect(page.get_by_label("Σημείωση για τον φάκελο")).to_have_value("Επώνυμο κατά το Δημοτολόγιο.")
    expect(page.get_by_label("Πρόταση έγκρισης")).to_be_checked()
    expect(page.get_by_label(re.compile("Έλεγξα τα στοιχεία"))).to_be_checked()
    axe_check(page)
    shoot(page, "clerk-form-kept-after-sign-in")
    page.get_by_role("button", name="Υποβολή").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Ολοκληρώθηκε: «Έλεγχος αίτησης» της υπόθεσης {number}"
    )

    # The head sees what the clerk corrected, in the queue and beside the certificate.
    head = new_page()
    sign_in(head, "proistamenos")
    head.get_by_role("link", name=re.compile("Για έγκριση")).first.click()
    row = head.locator("#inbox-table tbody tr", has_text=number)
    expect(row).to_contain_text("Διορθωμένα στοιχεία: Επώνυμο")
    axe_check(head)
    shoot(head, "head-queue-with-corrections")
    row.get_by_role("link", name=number, exact=True).click()
    expect(head.locator("#corrections")).to_contain_text(f"Παπαδοπούλου → {VERIFIED_SURNAME}")
    expect(head.locator("#stated-facts")).to_contain_text("διορθώθηκε")
    expect(head.locator("#f-fact_last_name")).to_have_count(0)  # no longer correctable
    axe_check(head)
    shoot(head, "head-approval-with-corrections")
    head.get_by_label("Έγκριση", exact=True).check()
    head.get_by_role("button", name="Υποβολή").click()
    expect(head.get_by_role("status")).to_contain_text("Ολοκληρώθηκε")

    sealed = wait_for("the sealed certificate", lambda: sealed_certificate(live_polis, submission.case_id))
    with live_polis.store.open(sealed.object_key, expected_sha256=sealed.sha256) as reader:
        text = _text(reader.read())
    assert VERIFIED_SURNAME in text


def _text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
