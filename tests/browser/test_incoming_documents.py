"""Incoming documents end to end in chromium: the protocol office registers a scanned letter (ΠΧ)
and assigns it to two units for action and one for information; each head gives it to a clerk;
one clerk files it with a reason, the other starts a reply; the for-information unit sees it
once, unread until opened; a clerk of an unrelated unit sees only "restricted".
Screenshots at 1280 and 390 px and axe-core on every page."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_check, sign_in
from tests.documents.conftest import SCANNED_LETTER

Shoot = Callable[[Page, str], None]
SUBJECT = "Πρόσκληση σε σύσκεψη για την αντιπλημμυρική θωράκιση"


def unit_row(page: Page, name: str, column: str) -> None:
    """Tick a unit for action (a) or for information (i) in the χρέωση table."""
    row = page.locator(".assign-table tbody tr", has=page.get_by_role("rowheader", name=name))
    row.locator(f"input[name='{column}']").check()


def test_register_assign_route_file_reply_read_and_restricted(
    page: Page, new_page: Callable[..., Page], shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    # The protocol office registers the letter and assigns it.
    sign_in(page, "protokollo")
    page.goto("/work/documents")
    axe_check(page)
    shoot(page, "protocol-folders-empty")
    page.get_by_role("link", name="Καταχώριση εισερχομένου εγγράφου").click()
    page.set_input_files(
        "#f-files", files=[{"name": "prosklisi.pdf", "mimeType": "application/pdf", "buffer": SCANNED_LETTER}]
    )
    page.fill("#f-subject", SUBJECT)
    page.fill("#f-sender", "Περιφέρεια Κρήτης")
    page.fill("#f-sender_reference", "4521/2026")
    page.fill("#f-sender_date", "2026-12-01")
    page.select_option("#f-classification", "ΠΧ")
    page.select_option("#f-delivery_method", "post")
    unit_row(page, "Διεύθυνση Τεχνικών Υπηρεσιών", "for_action")
    unit_row(page, "Τμήμα Εσόδων", "for_action")
    unit_row(page, "Τμήμα Κοινωνικής Προστασίας", "for_information")
    axe_check(page)
    shoot(page, "protocol-registration-form")
    page.get_by_role("button", name="Καταχώριση και χρέωση").click()
    expect(page.locator(".flashes")).to_contain_text("Καταχωρίστηκε με αριθμό")
    number = page.locator("#entry-number").inner_text()
    assert re.fullmatch(r"\d+ ΕΙΣ \d{4} ΠΧ", number), number
    document_url = page.url
    expect(page.locator("#assignments")).to_contain_text("Διεύθυνση Τεχνικών Υπηρεσιών")
    expect(page.locator("#assignments")).to_contain_text("Για ενημέρωση")
    axe_check(page)
    shoot(page, "protocol-document-registered")

    # Each head gives it to a clerk; then one clerk files it, the other starts a reply.
    for head, clerk in (("proistamenos.texnikis", "texniki"), ("proistamenos.esodon", "esoda")):
        tab = new_page()
        sign_in(tab, head)
        tab.goto("/work/documents")
        row = tab.locator("#documents tbody tr", has_text=number)
        expect(row).to_contain_text("Μη αναγνωσμένο")
        expect(tab.locator("#unread-action")).to_be_visible()
        axe_check(tab)
        shoot(tab, f"{head}-folder")
        row.get_by_role("link", name=number).click()
        expect(tab.locator("#task-route")).to_be_visible()
        axe_check(tab)
        shoot(tab, f"{head}-document")
        tab.locator("#task-route select[name=clerk]").select_option(label=_full_name(clerk))
        tab.get_by_role("button", name="Ανάθεση", exact=True).click()
        expect(tab.locator(".flashes")).to_contain_text("ανατέθηκε")
        tab.context.close()

    filer = new_page()
    sign_in(filer, "texniki")
    filer.goto(document_url)
    expect(filer.locator("#task-handle")).to_be_visible()
    filer.get_by_text("Αρχειοθέτηση", exact=True).click()
    filer.get_by_role(
        "button", name="Αρχειοθέτηση εγγράφου"
    ).click()  # no reason: refused, shown at the field
    expect(filer.locator("#f-reason")).to_be_visible()
    filer.locator("#task-handle textarea[name=reason]").fill("")
    filer.locator("#task-handle select[name=file_plan_code]").select_option("03.01")
    filer.evaluate("document.querySelector('#task-handle textarea[name=reason]').removeAttribute('required')")
    filer.get_by_role("button", name="Αρχειοθέτηση εγγράφου").click()
    expect(filer.locator("#problem")).to_contain_text("Δεν έγινε καμία αλλαγή: Γράψτε την αιτιολογία")
    axe_check(filer)
    shoot(filer, "clerk-filing-without-reason")
    filer.locator("#task-handle textarea[name=reason]").fill("Ενημερωθήκαμε· θα συμμετάσχουμε στη σύσκεψη.")
    filer.get_by_role("button", name="Αρχειοθέτηση εγγράφου").click()
    expect(filer.locator(".flashes")).to_contain_text("αρχειοθετήθηκε")
    expect(filer.locator("#assignments")).to_contain_text("Αρχειοθετήθηκε")
    shoot(filer, "clerk-filed")

    replier = new_page()
    sign_in(replier, "esoda")
    replier.goto(document_url)
    replier.get_by_text("Έναρξη απάντησης", exact=True).first.click()
    replier.locator("#f-note").fill("Θα στείλουμε τα στοιχεία του προϋπολογισμού.")
    replier.get_by_role("button", name="Έναρξη απάντησης").click()
    expect(replier.locator(".flashes")).to_contain_text("Ξεκίνησε απάντηση")
    # The reply's draft opens, answering the document, its body from the letter template.
    expect(replier.locator("h1")).to_contain_text("Απάντηση: ")
    axe_check(replier)
    shoot(replier, "clerk-reply-draft")
    replier.goto(document_url)
    expect(replier.locator("#assignments")).to_contain_text("Ξεκίνησε απάντηση")
    axe_check(replier)
    shoot(replier, "clerk-reply-started")

    # The for-information unit: listed once, unread until opened, then read.
    reader = new_page()
    sign_in(reader, "koinoniki")
    reader.goto("/work/documents?folder=information")
    rows = reader.locator("#documents tbody tr", has_text=number)
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Μη αναγνωσμένο")
    shoot(reader, "information-unread")
    rows.get_by_role("link", name=number).click()
    expect(reader.locator("#subject")).to_have_text(SUBJECT)
    expect(reader.locator("#assignments")).to_contain_text("Αναγνωσμένο")
    reader.goto("/work/documents?folder=information")
    expect(reader.locator("#documents tbody tr", has_text=number)).not_to_contain_text("Μη αναγνωσμένο")
    expect(reader.locator("#unread-information")).to_have_count(0)
    axe_check(reader)
    shoot(reader, "information-read")

    # An unrelated unit: the number and "restricted", never the subject or the sender.
    outsider = new_page()
    sign_in(outsider, "ypallilos")
    outsider.goto(document_url)
    expect(outsider.locator("#restricted")).to_be_visible()
    body = outsider.locator("main").inner_text()
    assert SUBJECT not in body and "Περιφέρεια" not in body and "prosklisi" not in body
    axe_check(outsider)
    shoot(outsider, "outsider-restricted")

    # The protocol office sees everything that happened, in words.
    page.goto(document_url)
    expect(page.locator("#history")).to_contain_text("Αρχειοθετήθηκε")
    expect(page.locator("#history")).to_contain_text("Ξεκίνησε απάντηση")
    shoot(page, "protocol-document-history")


def _full_name(username: str) -> str:
    from engine.people.demo import ACCOUNTS

    return next(account.full_name for account in ACCOUNTS if account.username == username)
