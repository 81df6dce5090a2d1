"""The administration pages in a browser: the org tree, people, substitutions, documents;
a non-administrator gets 403 on each. Screenshots at 1280 and 390 px; axe-clean."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from playwright.sync_api import Page, expect

from core.orm import session_scope
from engine.issuing.registry import issue_document
from tests.browser.conftest import axe_check, sign_in

PAGES = ("/admin", "/admin/people", "/admin/substitutions", "/admin/documents")


def test_a_non_administrator_gets_403_on_every_admin_page(page: Page) -> None:
    sign_in(page, "proistamenos")
    for path in PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("main")).to_contain_text("διαχειριστές")


def test_an_administrator_runs_the_organisation(
    page: Page, shoot: Callable[[Page, str], None], live_polis: SimpleNamespace
) -> None:
    with session_scope(live_polis.factory) as session:
        code = issue_document(
            session,
            title="Βεβαίωση μόνιμης κατοικίας",
            pdf=b"%PDF-1.7",
            storage_key="b/1",
            protocol_number="88 ΕΞ 2027",
        ).verification_code
    sign_in(page, "admin")
    page.goto("/admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Οργανόγραμμα")
    expect(page.get_by_role("main")).to_contain_text("Δήμος Επίδειξης")
    expect(page.get_by_role("main")).to_contain_text("Δήμαρχος")
    axe_check(page)
    shoot(page, "org-tree")

    page.get_by_role("link", name="Προσωπικό").click()
    page.get_by_label("Όνομα χρήστη").fill("nea.ypallilos")
    page.get_by_label("Ονοματεπώνυμο").fill("Νέα Υπάλληλος")
    page.get_by_label("Μονάδα", exact=False).first.select_option("DHM")
    page.locator("#f-kind").select_option("clerk")
    page.get_by_role("button", name="Δημιουργία λογαριασμού").click()
    expect(page.get_by_role("status")).to_contain_text("nea.ypallilos")
    expect(page.get_by_role("main")).to_contain_text("clerk@DHM")
    axe_check(page)
    shoot(page, "people")

    page.get_by_role("link", name="Αναπληρώσεις").click()
    page.locator("#f-unit").select_option("DHM")
    page.get_by_label("Προϊστάμενος/η (όνομα χρήστη)").fill("proistamenos")
    page.get_by_label("Αναπληρωτής/τρια (όνομα χρήστη)").fill("ypallilos")
    page.get_by_label("Από").fill("2027-07-01")
    page.get_by_label("Έως (συμπεριλαμβάνεται)").fill("2027-07-15")
    page.get_by_role("button", name="Καταχώριση αναπλήρωσης").click()
    expect(page.get_by_role("alert")).to_contain_text("holds no head position")
    axe_check(page)
    shoot(page, "substitution-refused")
    page.get_by_label("Αναπληρωτής/τρια (όνομα χρήστη)").fill("proistamenos.esodon")
    page.get_by_role("button", name="Καταχώριση αναπλήρωσης").click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("01/07/2027")
    shoot(page, "substitutions")

    page.get_by_role("link", name="Εκδοθέντα έγγραφα").click()
    page.get_by_label("Κωδικός, αριθμός πρωτοκόλλου ή τίτλος").fill("88 ΕΞ")
    page.get_by_role("button", name="Αναζήτηση").click()
    expect(page.get_by_role("main")).to_contain_text(code)
    page.get_by_label("Αιτιολογία (εμφανίζεται δημόσια)").fill("λάθος διεύθυνση")
    axe_check(page)
    shoot(page, "documents")
    page.get_by_role("button", name="Οριστική ανάκληση").click()
    expect(page.get_by_role("status")).to_contain_text(code)
    page.goto(f"/verify/{code}")
    expect(page.get_by_role("main")).to_contain_text("λάθος διεύθυνση")
    shoot(page, "verify-revoked")
