"""The head's approval queue: bulk approval with a result per case (one refused by the four-eyes
rule), approving from a phone (390x844), a colleague taking a task first, a task completed
meanwhile (nothing typed is lost), and the inbox keyboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    PHONE,
    act,
    axe_check,
    ensure_user,
    open_task_id,
    sign_in,
    submit_certificate_request,
)
from tests.browser.test_staff_journey import sealed_certificate, wait_for

Shoot = Callable[[Page, str], None]
PROPOSE = {"decision": "propose_approval"}


def test_bulk_approval_reports_each_case_and_four_eyes_holds(
    phone_page: Page, new_page: Callable[..., Page], shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    # Δήμητρα holds both roles: she reviewed one request herself, so she may not approve it.
    ensure_user(live_polis, "diplos", "Δήμητρα Διπλού", ["clerk", "head"])
    requests = [submit_certificate_request(live_polis, f"Αιτών {n}") for n in ("Α", "Β", "Γ")]
    act(live_polis, "ypallilos", requests[0].case_id, PROPOSE)
    act(live_polis, "ypallilos", requests[1].case_id, PROPOSE)
    act(live_polis, "diplos", requests[2].case_id, PROPOSE)
    numbers = [r.case_number for r in requests]

    page = phone_page  # the head works from a phone
    sign_in(page, "diplos")
    page.get_by_role("link", name=re.compile("Για έγκριση")).first.click()
    for number in numbers:
        expect(page.locator("#inbox-table tbody tr", has_text=number)).to_be_visible()
    axe_check(page)
    shoot(page, "approval-queue-phone")
    for number in numbers:
        page.get_by_label(f"Επιλογή υπόθεσης {number}").check()
    page.get_by_role("button", name="Έγκριση επιλεγμένων").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Μαζική έγκριση")
    expect(page.get_by_role("status")).to_contain_text("Εγκρίθηκαν 2 από 3")
    results = page.locator("#bulk-results tbody tr")
    expect(results.filter(has_text=numbers[0])).to_contain_text("Εγκρίθηκε")
    expect(results.filter(has_text=numbers[1])).to_contain_text("Εγκρίθηκε")
    expect(results.filter(has_text=numbers[2])).to_contain_text("Δεν εγκρίθηκε")
    expect(results.filter(has_text=numbers[2])).to_contain_text("κανόνας των τεσσάρων ματιών")
    axe_check(page)
    shoot(page, "bulk-result-phone")

    # The page of the refused one says why before she tries, and offers no decision form.
    page.goto(f"/work/tasks/{open_task_id(live_polis, requests[2].case_id)}")
    expect(page.locator("#four-eyes")).to_contain_text("κανόνας των τεσσάρων ματιών")
    expect(page.get_by_role("button", name="Υποβολή")).to_have_count(0)
    axe_check(page)
    shoot(page, "four-eyes-phone")

    # The head of the department approves it from a phone.
    head = new_page(PHONE)
    sign_in(head, "proistamenos")
    head.get_by_role("link", name=re.compile("Για έγκριση")).first.click()
    head.locator("#inbox-table tbody tr", has_text=numbers[2]).get_by_role("button", name="Έγκριση").click()
    expect(head.get_by_role("status")).to_contain_text(f"Εγκρίθηκε: υπόθεση {numbers[2]}")
    expect(head.locator("#inbox-table tbody tr", has_text=numbers[2])).to_have_count(0)
    shoot(head, "head-approved-from-phone")
    for submission in requests:
        wait_for("a sealed certificate", lambda s=submission: sealed_certificate(live_polis, s.case_id))


def test_taken_first_and_completed_meanwhile_lose_nothing(
    page: Page, new_page: Callable[..., Page], shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    ensure_user(live_polis, "diplos", "Δήμητρα Διπλού", ["clerk", "head"])
    first = submit_certificate_request(live_polis, "Πρώτη Αιτούσα")
    sign_in(page, "ypallilos")
    page.goto("/work?view=department&q=" + first.case_number)
    row = page.locator("#inbox-table tbody tr", has_text=first.case_number)
    expect(row).to_be_visible()

    # Μαρία takes it while Γιώργος still looks at the list.
    colleague = new_page()
    sign_in(colleague, "ypallilos2")
    colleague.goto("/work?view=department&q=" + first.case_number)
    colleague.get_by_role("button", name=re.compile("Ανάληψη")).click()
    expect(colleague.get_by_role("status")).to_contain_text("Αναλάβατε")

    row.get_by_role("button", name=re.compile("Ανάληψη")).click()
    expect(page.get_by_role("status")).to_contain_text("Την ανέλαβε πριν από εσάς ο/η Μαρία Βλαχάκη")
    axe_check(page)
    shoot(page, "taken-by-colleague")

    # A head types a return comment; the other head approves meanwhile; the comment is kept.
    act(live_polis, "ypallilos2", first.case_id, PROPOSE)
    head = new_page()
    sign_in(head, "diplos")
    head.goto(f"/work/tasks/{open_task_id(live_polis, first.case_id)}")
    head.get_by_label("Επιστροφή στον υπάλληλο").check()
    head.get_by_label("Σχόλιο για τον υπάλληλο").fill("Λείπει η σελίδα 2 της ταυτότητας.")
    act(live_polis, "proistamenos", first.case_id, {"decision": "approve"})
    head.get_by_role("button", name="Υποβολή").click()
    expect(head.get_by_role("alert")).to_contain_text("Νίκος Σταυρακάκης ολοκλήρωσε στο μεταξύ")
    expect(head.locator(".typed", has_text="Λείπει η σελίδα 2")).to_be_visible()
    expect(head.locator(".typed", has_text="Επιστροφή στον υπάλληλο")).to_be_visible()
    axe_check(head)
    shoot(head, "completed-meanwhile")


def test_inbox_keyboard_claims_and_opens(page: Page, shoot: Shoot, live_polis: SimpleNamespace) -> None:
    submit_certificate_request(live_polis, "Πληκτρολόγιο Πρώτο")
    sign_in(page, "ypallilos")
    page.goto("/work?view=department&sort=newest")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_have_attribute("open", "")
    shoot(page, "keyboard-help")
    page.keyboard.press("Escape")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("j")
    expect(page.locator("#inbox-table tbody tr.is-current")).to_have_count(1)
    number = page.locator("#inbox-table tbody tr.is-current a.task-link").inner_text()
    page.keyboard.press("c")
    expect(page.get_by_role("status")).to_contain_text(f"της υπόθεσης {number}")
    page.goto("/work?view=mine&sort=newest")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("j")
    page.keyboard.press("/")
    expect(page.get_by_label("Αναζήτηση")).to_be_focused()


def test_list_refreshes_itself_and_keeps_the_filters(page: Page, live_polis: SimpleNamespace) -> None:
    sign_in(page, "ypallilos2")
    page.goto("/work?view=department&q=Ανανέωση&sort=newest")
    expect(page.locator("#inbox-table")).to_have_count(0)
    before = int(page.locator("#count-department").inner_text())
    page.get_by_label("Αναζήτηση").fill("κείμενο που γράφεται")  # typed, not yet applied

    arrived = submit_certificate_request(live_polis, "Ανανέωση Λίστας")
    submit_certificate_request(live_polis, "Άλλος Αιτών")
    # htmx polls every 30 s; the test fires the same refresh now.
    page.evaluate("htmx.trigger('#inbox-list', 'refresh')")
    expect(page.locator("#inbox-table tbody tr", has_text=arrived.case_number)).to_be_visible()
    expect(page.locator("#inbox-table tbody tr")).to_have_count(1)  # the filter still applies
    expect(page.locator("#count-department")).to_have_text(str(before + 1))
    expect(page.get_by_label("Αναζήτηση")).to_have_value("κείμενο που γράφεται")
    assert "q=" in page.url and "view=department" in page.url


def test_everything_essential_works_without_javascript(
    browser: Any, live_polis: SimpleNamespace, shoot: Shoot
) -> None:
    submission = submit_certificate_request(live_polis, "Χωρίς Σενάριο")
    context = browser.new_context(java_script_enabled=False, base_url=live_polis.url, locale="el-GR")
    try:
        page = context.new_page()
        sign_in(page, "ypallilos")
        page.goto("/work?view=department&q=" + submission.case_number)
        page.get_by_role("button", name=re.compile("Ανάληψη")).click()
        expect(page.get_by_role("status")).to_contain_text("Αναλάβατε")
        page.goto(f"/work/tasks/{open_task_id(live_polis, submission.case_id)}")
        page.get_by_label("Πρόταση έγκρισης").check()
        page.get_by_label(re.compile("Έλεγξα τα στοιχεία")).check()
        page.get_by_role("button", name="Υποβολή").click()
        expect(page.get_by_role("status")).to_contain_text("Ολοκληρώθηκε")
        page.get_by_role("button", name="Αποσύνδεση").click()

        sign_in(page, "proistamenos")
        page.goto("/work?view=approvals&q=" + submission.case_number)
        page.get_by_label(f"Επιλογή υπόθεσης {submission.case_number}").check()
        page.get_by_role("button", name="Έγκριση επιλεγμένων").click()
        expect(page.get_by_role("status")).to_contain_text(f"Εγκρίθηκε: υπόθεση {submission.case_number}")
        shoot(page, "no-javascript-bulk")
    finally:
        context.close()
    wait_for("the sealed certificate", lambda: sealed_certificate(live_polis, submission.case_id))


def test_saved_view_shared_with_the_department(
    page: Page, new_page: Callable[..., Page], shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    sign_in(page, "ypallilos")
    page.goto("/work?view=department&service=family_status&week=1&sort=newest")
    page.get_by_label("Όνομα της προβολής").fill("Οικογενειακής, αυτή την εβδομάδα")
    page.get_by_label("Κοινή χρήση με το τμήμα μου").check()
    page.get_by_role("button", name="Αποθήκευση προβολής").click()
    expect(page.get_by_role("status")).to_contain_text("Η προβολή αποθηκεύτηκε")
    axe_check(page)
    shoot(page, "saved-view")

    colleague = new_page()
    sign_in(colleague, "ypallilos2")
    views = colleague.get_by_role("region", name="Αποθηκευμένες προβολές")
    expect(views).to_contain_text("από Γιώργος Μαρκάκης")
    views.get_by_role("link", name="Οικογενειακής, αυτή την εβδομάδα").click()
    expect(colleague.get_by_label("Υπηρεσία")).to_have_value("family_status")
    expect(colleague.get_by_label("Λήγει αυτή την εβδομάδα")).to_be_checked()
    assert "view=department" in colleague.url

    outsider = new_page()
    sign_in(outsider, "esoda")
    expect(outsider.get_by_role("region", name="Αποθηκευμένες προβολές")).not_to_contain_text("Οικογενειακής")


def test_workspace_in_english_and_refusals_in_words(
    page: Page, shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    submission = submit_certificate_request(live_polis, "English Reader")
    act(live_polis, "ypallilos", submission.case_id, PROPOSE)
    sign_in(page, "proistamenos")
    page.get_by_role("link", name="English").click()
    page.goto("/work?view=approvals&q=" + submission.case_number)
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    row = page.locator("#inbox-table tbody tr", has_text=submission.case_number)
    expect(row).to_contain_text("Approve request")
    expect(row).to_contain_text("Family status certificate")
    expect(row).to_contain_text("On time")
    axe_check(page)
    shoot(page, "inbox-english")
    row.get_by_role("link", name=submission.case_number, exact=True).click()
    expect(page.get_by_role("heading", name="Certificate preview")).to_be_visible()
    axe_check(page)
    shoot(page, "task-english")

    page.goto("/work/tasks/00000000-0000-0000-0000-000000000000")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    page.get_by_role("link", name="Ελληνικά").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Δεν βρέθηκε")
    expect(page.locator(".notice")).to_contain_text("Δεν υπάρχει ή δεν είναι πια ανοιχτό")
    axe_check(page)
    shoot(page, "not-found-greek")
