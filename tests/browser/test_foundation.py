"""The shared layout: sign-in, header with language switch and user, a friendly 404; axe-clean."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_check, sign_in


def test_layout_sign_in_language_and_not_found(page: Page, shoot: Callable[[Page, str], None]) -> None:
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "el")
    expect(page.get_by_role("heading", level=1)).to_have_text("Είσοδος υπαλλήλων")
    expect(page.get_by_role("banner")).to_contain_text("Δήμος Χανίων")
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("contentinfo")).to_be_visible()
    axe_check(page)
    shoot(page, "sign-in")

    # The skip link is the first thing the keyboard reaches and it leads to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Μετάβαση στο κύριο περιεχόμενο")
    expect(skip).to_be_focused()

    page.get_by_label("Όνομα χρήστη").fill("ypallilos")
    page.get_by_label("Κωδικός").fill("wrong")
    page.get_by_role("button", name="Σύνδεση").click()
    expect(page.get_by_role("alert")).to_contain_text("Λάθος όνομα χρήστη ή κωδικός")
    axe_check(page)

    sign_in(page, "ypallilos")
    expect(page.get_by_role("banner")).to_contain_text("Γιώργος Μαρκάκης")
    axe_check(page)
    shoot(page, "signed-in")

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("link", name="Ελληνικά").click()
    expect(page.locator("html")).to_have_attribute("lang", "el")

    page.goto("/no-such-page")
    expect(page.get_by_role("heading", level=1)).to_have_text("Δεν βρέθηκε")
    axe_check(page)
    shoot(page, "not-found")

    page.get_by_role("button", name="Αποσύνδεση").click()
    expect(page.get_by_role("link", name="Είσοδος υπαλλήλων").first).to_be_visible()
