"""Outgoing documents in chromium, without the signature (the signing page is not built yet): a
clerk writes a reply from the letter template, sends it to the chain the organisation chart gives
(head of department → the deputy mayor with delegated signature), the head approves with a
reservation, the deputy mayor returns it with a comment, the clerk sends it again, the head
approves and the deputy mayor finds it in "To sign". Screenshots at 1280 and 390 px, axe-core on
every page."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_check, sign_in

Shoot = Callable[[Page, str], None]
SUBJECT = "Απάντηση στην πρόσκληση για την αντιπλημμυρική θωράκιση"


def test_draft_from_template_through_the_chain_with_a_return(
    page: Page, new_page: Callable[..., Page], shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    sign_in(page, "ypallilos")
    page.goto("/work/outgoing")
    axe_check(page)
    shoot(page, "clerk-folders-empty")
    page.get_by_role("link", name="Νέο σχέδιο").click()
    expect(page.locator("#f-text")).to_contain_text("Σε απάντηση")
    page.fill("#f-subject", SUBJECT)
    page.fill("#f-recipient", "Περιφέρεια Κρήτης")
    page.fill("#f-email", "protocol@crete.example.gr")
    page.select_option("#f-unit", label="Τμήμα Εσόδων")
    page.fill("#f-text", "Σε απάντηση του σχετικού σας, θα παραστούν δύο εκπρόσωποι.\nΜε εκτίμηση.")
    axe_check(page)
    shoot(page, "clerk-new-draft")
    page.get_by_role("button", name="Αποθήκευση σχεδίου").click()
    expect(page.locator("h1")).to_have_text(SUBJECT)
    document_url = page.url
    page.get_by_role("button", name="Αποστολή στην αλυσίδα υπογραφών").click()
    expect(page.locator("#chain")).to_contain_text("Νίκος Σταυρακάκης")
    expect(page.locator("#chain")).to_contain_text("Χρύσα Σπανουδάκη")
    axe_check(page)
    shoot(page, "clerk-draft-in-the-chain")

    head = new_page()
    sign_in(head, "proistamenos")
    head.goto("/work/outgoing?folder=to_sign")
    expect(head.locator("#outgoing")).to_contain_text(SUBJECT)
    axe_check(head)
    shoot(head, "head-to-sign")
    head.get_by_role("link", name=SUBJECT).click()
    head.fill("#f-comment", "Σωστό.")
    head.fill("#f-reservation", "Επιφύλαξη ως προς την ημερομηνία της σύσκεψης.")
    axe_check(head)
    shoot(head, "head-approves")
    head.locator("form[action$='/approve'] button[type=submit]").click()
    expect(head.locator(".flashes")).to_contain_text("Εγκρίθηκε")

    deputy = new_page()
    sign_in(deputy, "antidimarchos")
    deputy.goto("/work/outgoing?folder=to_sign")
    deputy.get_by_role("link", name=SUBJECT).click()
    deputy.locator("form[action$='/return'] textarea").fill("Γράψτε τα ονόματα των εκπροσώπων.")
    axe_check(deputy)
    shoot(deputy, "signatory-returns")
    deputy.locator("form[action$='/return'] button[type=submit]").click()
    expect(deputy.locator(".flashes")).to_contain_text("Επιστράφηκε στον συντάκτη")

    page.goto("/work/outgoing?folder=returned")
    expect(page.locator("#outgoing")).to_contain_text(SUBJECT)
    page.goto(document_url)
    expect(page.locator("#chain")).to_contain_text("Επιστράφηκε")
    expect(page.locator("main")).to_contain_text("Γράψτε τα ονόματα των εκπροσώπων.")
    expect(page.locator("main")).to_contain_text("Επιφύλαξη ως προς την ημερομηνία της σύσκεψης.")
    page.fill("#f-text", "Σε απάντηση του σχετικού σας, θα παραστούν η κα Α. και ο κ. Β.\nΜε εκτίμηση.")
    page.get_by_role("button", name="Αποθήκευση σχεδίου").click()
    expect(page.locator("#diff")).to_contain_text(
        "+Σε απάντηση του σχετικού σας, θα παραστούν η κα Α. και ο κ. Β."
    )
    axe_check(page)
    shoot(page, "clerk-returned-document-new-version")
    page.get_by_role("button", name="Αποστολή στην αλυσίδα υπογραφών").click()
    expect(page.locator("#chain-title ~ h3")).to_contain_text("Προηγούμενοι γύροι")

    head.goto(document_url)
    head.locator("form[action$='/approve'] button[type=submit]").click()
    deputy.goto("/work/outgoing?folder=to_sign")
    expect(deputy.locator("#outgoing")).to_contain_text(SUBJECT)
    deputy.goto(document_url)
    expect(deputy.locator("main")).to_contain_text("Αναμένει υπογραφή")
    axe_check(deputy)
    shoot(deputy, "signatory-document-waiting-for-signature")
