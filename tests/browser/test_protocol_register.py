"""The protocol register in chromium: the protocol office searches with and without accents,
opens an entry (receipt, files, links both ways), cancels one with a reason, registers an ορθή
επανάληψη (the old entry struck through, linked to the new one), downloads the yearly book; a
clerk of an unrelated unit sees a ΠΧ entry as its number and "restricted". Screenshots at 1280
and 390 px, axe-core on every page, every action without JavaScript too."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from core.orm import session_scope
from engine.documents.registration import register_incoming
from engine.people.models import Department, User
from tests.browser.conftest import DESK, axe_check, sign_in
from tests.documents.conftest import letter

Shoot = Callable[[Page, str], None]
SECRET = "Πειθαρχική έρευνα για τη σύμβαση καθαριότητας"
PLAIN = "Αίτηση για άδεια κατάληψης κοινόχρηστου χώρου"


@pytest.fixture(scope="module")
def entries(live_polis: SimpleNamespace) -> dict[str, str]:
    """A ΠΧ letter assigned to the technical services and an unclassified one, registered by the office."""
    with session_scope(live_polis.factory) as session:
        registrar = session.scalar(select(User).where(User.username == "protokollo"))
        technical = session.scalar(select(Department).where(Department.code == "TEX"))
        assert registrar is not None and technical is not None
        secret = register_incoming(
            session,
            live_polis.store,
            letter(subject=SECRET, classification="ΠΧ", for_action=(technical.id,)),
            registered_by=registrar,
        ).entry
        plain = register_incoming(
            session,
            live_polis.store,
            letter(subject=PLAIN, sender="Ελένη Ευαγγέλου", sender_reference=None, related=(secret.id,)),
            registered_by=registrar,
        ).entry
        return {
            "secret": f"{secret.number} ΕΙΣ {secret.year}",
            "secret_id": str(secret.id),
            "plain": f"{plain.number} ΕΙΣ {plain.year}",
            "plain_id": str(plain.id),
        }


def test_the_protocol_office_searches_cancels_and_corrects(
    page: Page, shoot: Shoot, entries: dict[str, str]
) -> None:
    sign_in(page, "protokollo")
    page.goto("/work/documents")
    page.locator("#register-link").click()
    expect(page.get_by_role("heading", name="Βιβλίο πρωτοκόλλου")).to_be_visible()
    axe_check(page)
    shoot(page, "register")

    # Capitals without accents find the accented subject; the other letter is not listed.
    page.fill("#f-q", "ΚΑΘΑΡΙΟΤΗΤΑΣ")
    page.get_by_role("button", name="Αναζήτηση").click()
    rows = page.locator("#register tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(SECRET)
    assert "q=" in page.url  # the search is in the address: Back and shared links work
    axe_check(page)
    shoot(page, "register-search-words")

    page.goto("/work/protocol?number=abc")
    expect(page.locator(".error-summary")).to_contain_text("ακέραιο")
    axe_check(page)
    shoot(page, "register-search-error")

    # The entry page: files with SHA-256, receipt, related both ways.
    page.goto(f"/work/protocol/{entries['plain_id']}")
    expect(page.locator("#subject")).to_have_text(PLAIN)
    expect(page.locator("#files")).to_contain_text("SHA-256")
    expect(page.locator("#related")).to_contain_text(entries["secret"])
    assert page.request.get(page.locator("#receipt").get_attribute("href") or "").body().startswith(b"%PDF")
    axe_check(page)
    shoot(page, "entry")

    # The document's case file: a ZIP whose manifest gives every item's SHA-256.
    page.get_by_role("link", name="Άνοιγμα του εγγράφου και των χρεώσεών του").click()
    with page.expect_download() as download:
        page.locator("#case-file").click()
    archive = zipfile.ZipFile(download.value.path())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["items"] and all(
        hashlib.sha256(archive.read(item["path"])).hexdigest() == item["sha256"] for item in manifest["items"]
    )
    assert any(item["path"].endswith("scan.pdf") for item in manifest["items"])
    page.reload()
    expect(page.locator("#history")).to_contain_text("Λήψη του φακέλου")
    axe_check(page)
    page.goto(f"/work/protocol/{entries['plain_id']}")

    # Ορθή επανάληψη: a new number, the old one struck through with a link to the new one.
    page.locator("#correct-link").click()
    page.fill("#f-subject", PLAIN + " (διόρθωση θέματος)")
    axe_check(page)
    shoot(page, "correction-form")
    page.get_by_role("button", name="Καταχώριση ορθής επανάληψης").click()
    expect(page.locator(".flashes")).to_contain_text("Καταχωρίστηκε με αριθμό")
    expect(page.locator("#corrects")).to_contain_text(entries["plain"])
    new_number = page.locator("#entry-number").inner_text()
    assert re.fullmatch(r"\d+ ΕΙΣ \d{4}", new_number) and new_number != entries["plain"]
    shoot(page, "correction-registered")
    page.locator("#corrects a").click()
    expect(page.locator("#entry-number s")).to_have_text(entries["plain"])
    expect(page.locator("#superseded")).to_contain_text(new_number)
    axe_check(page)
    shoot(page, "corrected-entry-struck-through")

    # Cancel: a reason is required; the entry keeps its number.
    page.locator("#cancel summary").click()
    page.evaluate("document.querySelector('#f-reason').removeAttribute('required')")
    page.locator("#cancel").get_by_role("button", name="Ακύρωση της καταχώρισης").click()
    expect(page.locator(".error-summary")).to_contain_text("αιτιολογία")
    axe_check(page)
    shoot(page, "cancel-without-reason")
    page.locator("#f-reason").fill("Διπλή καταχώριση του ίδιου εγγράφου")
    page.locator("#cancel").get_by_role("button", name="Ακύρωση της καταχώρισης").click()
    expect(page.locator(".flashes")).to_contain_text("κρατά τον αριθμό της")
    expect(page.locator("#cancelled")).to_contain_text("Διπλή καταχώριση")
    shoot(page, "cancelled")

    page.goto("/work/protocol")
    struck = page.locator("#register tbody tr", has_text=entries["plain"])
    expect(struck.locator("s").first).to_be_visible()
    expect(struck).to_contain_text("Ακυρώθηκε")
    expect(struck).to_contain_text(f"Ορθή επανάληψη: {new_number}")

    # The yearly book as a download.
    page.locator("#book summary").click()
    with page.expect_download() as download:
        page.locator("#book").get_by_role("button", name="Λήψη").click()
    book = download.value.path().read_text(encoding="utf-8-sig")
    assert SECRET in book and "Διπλή καταχώριση" in book
    shoot(page, "register-after")


def test_a_clerk_of_an_unrelated_unit_sees_restricted_for_a_classified_entry(
    page: Page, browser: Browser, shoot: Shoot, entries: dict[str, str], live_polis: SimpleNamespace
) -> None:
    sign_in(page, "ypallilos")
    page.goto("/work/protocol")
    row = page.locator("#register tbody tr", has_text=entries["secret"])
    expect(row).to_contain_text("Περιορισμένης πρόσβασης")
    listing = page.locator("main").inner_text()
    assert SECRET not in listing and PLAIN not in listing and "Περιφέρεια" not in listing
    expect(page.locator("#book")).to_have_count(0)  # the book is the protocol office's
    axe_check(page)
    shoot(page, "outsider-register")
    row.get_by_role("link").first.click()
    expect(page.locator("#restricted")).to_be_visible()
    assert SECRET not in page.locator("main").inner_text()
    expect(page.locator("#cancel")).to_have_count(0)
    axe_check(page)
    shoot(page, "outsider-entry")

    # The unit it is assigned to reads it, without JavaScript too.
    context = browser.new_context(
        viewport=DESK, base_url=live_polis.url, locale="el-GR", java_script_enabled=False
    )
    try:
        technical = context.new_page()
        sign_in(technical, "texniki")
        technical.goto("/work/protocol?q=καθαριοτητα")
        expect(technical.locator("#register tbody tr")).to_contain_text(SECRET)
        shoot(technical, "assigned-unit-register-no-js")
    finally:
        context.close()
