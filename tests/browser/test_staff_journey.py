"""The staff workspace end to end in chromium: a citizen's certificate request is reviewed by a
clerk (attachment and certificate previewed), approved by the head from the approval queue,
sealed by the worker; another department cannot see it. Screenshots and axe on every page."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.orm import session_scope
from engine.requests.models import CaseFile
from engine.workflow.models import Case
from tests.browser.conftest import axe_check, sign_in, submit_certificate_request

Shoot = Callable[[Page, str], None]


def wait_for(what: str, check: Callable[[], Any], seconds: float = 90.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def sealed_certificate(live_polis: SimpleNamespace, case_id: str) -> CaseFile | None:
    with session_scope(live_polis.factory) as session:
        case = session.get(Case, case_id)
        if case is None or case.status != "completed":
            return None
        return session.scalar(
            select(CaseFile).where(CaseFile.case_id == case.id, CaseFile.kind == "certificate")
        )


def test_clerk_reviews_head_approves_certificate_is_sealed(
    page: Page, new_page: Callable[..., Page], shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    submission = submit_certificate_request(live_polis)
    number = submission.case_number

    # The clerk lands on the inbox; the new request waits in the department's queue.
    sign_in(page, "ypallilos")
    expect(page).to_have_url(re.compile(r"/work$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Εισερχόμενα")
    axe_check(page)
    shoot(page, "clerk-inbox-empty")
    page.get_by_role("link", name=re.compile("Το τμήμα μου")).click()
    row = page.locator("#inbox-table tbody tr", has_text=number)
    expect(row).to_contain_text("Πιστοποιητικό οικογενειακής κατάστασης")
    expect(row).to_contain_text("Ελένη Παπαδοπούλου")
    expect(row).to_contain_text("Έλεγχος αίτησης")
    expect(row).to_contain_text("Εντός προθεσμίας")
    axe_check(page)
    shoot(page, "clerk-department-queue")

    # Filters live in the URL: search by case number keeps the view.
    page.get_by_label("Αναζήτηση").fill(number)
    page.get_by_role("button", name="Εφαρμογή").click()
    expect(page).to_have_url(re.compile(r"view=department.*q=" + re.escape(number.replace("/", "%2F"))))
    expect(page.locator("#inbox-table tbody tr")).to_have_count(1)

    row.get_by_role("button", name=re.compile("Ανάληψη")).click()
    expect(page.get_by_role("status")).to_contain_text("Αναλάβατε")
    page.get_by_role("link", name=re.compile("Οι εργασίες μου")).click()
    page.locator("#inbox-table tbody tr", has_text=number).get_by_role(
        "link", name=number, exact=True
    ).click()

    # The task page: request facts, the attachment and the certificate preview.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Έλεγχος αίτησης")
    task_url = page.url
    expect(page.locator("#waiting-on")).to_have_text("Γιώργος Μαρκάκης")
    expect(page.get_by_role("region", name="Η αίτηση")).to_contain_text("Επώνυμο")
    attachment = page.get_by_role("img", name=re.compile("tautotita.pdf"))
    certificate = page.get_by_role("img", name=re.compile("Πιστοποιητικό \\(προεπισκόπηση\\)"))
    for image in (attachment, certificate):
        image.scroll_into_view_if_needed()
        expect(image).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=image.element_handle())
    axe_check(page)
    shoot(page, "clerk-task-page")

    # Submitting without a decision: the error summary and the message at the field.
    page.get_by_role("button", name="Υποβολή").click()
    expect(page.get_by_role("alert")).to_contain_text("Υπάρχει πρόβλημα")
    expect(page.locator("#f-decision-error")).to_contain_text("Επιλέξτε απόφαση")
    axe_check(page)
    shoot(page, "clerk-form-error")

    page.get_by_label("Πρόταση έγκρισης").check()
    page.get_by_label("Σημείωση για τον φάκελο").fill("Ελέγχθηκε με το Δημοτολόγιο.")
    page.get_by_role("button", name="Υποβολή").click()
    # Approval is proposed only once the clerk confirms the facts the certificate states.
    expect(page.locator("#f-facts_confirmed-error")).to_contain_text("Επιβεβαιώστε")
    expect(page.get_by_label("Σημείωση για τον φάκελο")).to_have_value("Ελέγχθηκε με το Δημοτολόγιο.")
    expect(page.get_by_label("Πρόταση έγκρισης")).to_be_checked()
    page.get_by_label(re.compile("Έλεγξα τα στοιχεία")).check()
    page.get_by_role("button", name="Υποβολή").click()
    expect(page).to_have_url(re.compile(r"/work$"))
    expect(page.get_by_role("status")).to_contain_text(
        f"Ολοκληρώθηκε: «Έλεγχος αίτησης» της υπόθεσης {number}"
    )
    shoot(page, "clerk-done")

    # A clerk of another department cannot open the task, even by typing its address.
    outsider = new_page()
    sign_in(outsider, "esoda")
    answer = outsider.goto(task_url)
    assert answer is not None and answer.status in (403, 404)
    expect(outsider.get_by_role("heading", level=1)).to_have_text(re.compile("Δεν επιτρέπεται|Δεν βρέθηκε"))
    axe_check(outsider)
    shoot(outsider, "other-department-forbidden")
    outsider.goto(f"/work/cases/{submission.case_id}")
    expect(outsider.get_by_role("heading", level=1)).to_have_text("Δεν επιτρέπεται")
    expect(outsider.locator("body")).not_to_contain_text("Ελένη Παπαδοπούλου")

    # The head approves from the approval queue.
    head = new_page()
    sign_in(head, "proistamenos")
    head.get_by_role("link", name=re.compile("Για έγκριση")).first.click()
    approval_row = head.locator("#inbox-table tbody tr", has_text=number)
    expect(approval_row).to_contain_text("Έγκριση αίτησης")
    axe_check(head)
    shoot(head, "head-approvals")
    approval_row.get_by_role("link", name=number, exact=True).click()
    expect(head.get_by_role("region", name="Προεπισκόπηση πιστοποιητικού")).to_be_visible()
    expect(head.get_by_role("region", name="Ιστορικό")).to_contain_text("Ελέγχθηκε με το Δημοτολόγιο.")
    axe_check(head)
    shoot(head, "head-task-page")
    head.get_by_label("Έγκριση", exact=True).check()
    head.get_by_role("button", name="Υποβολή").click()
    expect(head.get_by_role("status")).to_contain_text("Ολοκληρώθηκε")

    sealed = wait_for("the sealed certificate", lambda: sealed_certificate(live_polis, submission.case_id))
    assert sealed.content_type == "application/pdf"

    # The case page: the diagram with the path taken, the documents, the history.
    head.goto(f"/work/cases/{submission.case_id}")
    expect(head.locator("#diagram.is-ready")).to_be_visible()
    expect(head.locator("#diagram .djs-element.is-done").first).to_be_attached()
    expect(head.get_by_role("region", name="Έγγραφα")).to_contain_text("Σφραγισμένο πιστοποιητικό")
    expect(head.get_by_role("region", name="Εγγραφές πρωτοκόλλου")).to_contain_text("ΕΞ")
    axe_check(head)
    shoot(head, "head-case-page")

    head.goto("/work/processes")
    expect(head.locator("#processes")).to_contain_text("Έκδοση πιστοποιητικού")
    axe_check(head)
    shoot(head, "processes")
    head.goto("/work/processes/certificate_issuance")
    expect(head.locator("#diagram.is-ready")).to_be_visible()
    axe_check(head)
    shoot(head, "process-page")
