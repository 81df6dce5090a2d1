"""The administration pages in a browser: the org tree and its units, the org chart file,
people, substitutions, documents, processes, timers, incidents, API tokens and the service
catalogue; a head naming their own substitute; a non-administrator gets 403 on each.
Screenshots at 1280 and 390 px; axe-clean."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

from playwright.sync_api import Page, expect
from sqlalchemy import delete, select

from core.clock import utcnow
from core.orm import session_scope
from engine.issuing.registry import issue_document
from engine.people.demo import DEMO_CSV
from engine.people.models import Department
from engine.people.substitutions import athens_today
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.models import Incident, Wakeup
from tests.browser.conftest import act, axe_check, sign_in
from tests.reliability.test_retry_cap import TIMER_THEN_BREAK

PAGES = (
    "/admin",
    "/admin/people",
    "/admin/substitutions",
    "/admin/documents",
    "/admin/units/DHM",
    "/admin/org/import",
    "/admin/processes",
    "/admin/processes/certificate_issuance",
    "/admin/timers",
    "/admin/incidents",
    "/admin/tokens",
    "/admin/services",
)


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
    expect(page.get_by_role("alert")).to_contain_text("δεν κατέχει θέση προϊσταμένου")
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


def test_an_administrator_edits_units_and_imports_the_org_chart_file(
    page: Page, shoot: Callable[[Page, str], None]
) -> None:
    sign_in(page, "admin")
    page.goto("/admin")
    page.get_by_label("Κωδικός").fill("DHM-KOIN")
    page.get_by_label("Όνομα στα ελληνικά").fill("Γραφείο Κοιμητηρίων")
    page.get_by_label("Όνομα στα αγγλικά").fill("Cemeteries office")
    page.locator("#f-kind").select_option("office")
    page.locator("#f-parent").select_option("DHM")
    page.get_by_role("button", name="Προσθήκη μονάδας").click()
    expect(page.get_by_role("status")).to_contain_text("DHM-KOIN")
    expect(page.get_by_role("main")).to_contain_text("Γραφείο Κοιμητηρίων")
    axe_check(page)
    shoot(page, "unit-added")

    page.goto("/admin/units/DHM")
    page.locator("#f-parent").select_option("DHM-KOIN")
    page.get_by_role("button", name="Μετακίνηση μονάδας").click()
    expect(page.get_by_role("alert")).to_contain_text("DHM → DHM-KOIN")
    axe_check(page)
    shoot(page, "move-refused-cycle")
    page.goto("/admin/units/DHM-KOIN")
    page.get_by_label("Όνομα στα ελληνικά").fill("Κοιμητήρια")
    page.get_by_role("button", name="Αποθήκευση ονομάτων").click()
    expect(page.get_by_role("status")).to_contain_text("μετονομάστηκε")
    page.locator("#f-parent").select_option("OIK")
    page.get_by_role("button", name="Μετακίνηση μονάδας").click()
    expect(page.get_by_role("main")).to_contain_text("OIK")
    shoot(page, "unit-page")

    text = DEMO_CSV.read_text(encoding="utf-8")
    page.goto("/admin/org/import")
    bad = text + "Z,NOWHERE,office,Ζ,Z,,,,,,,,\n"
    page.get_by_label("Αρχείο οργανογράμματος (CSV)").set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    page.get_by_role("button", name="Προεπισκόπηση", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("NOWHERE")
    expect(page.get_by_role("button", name="Εφαρμογή αυτών των αλλαγών")).to_have_count(0)
    axe_check(page)
    shoot(page, "import-problems")
    changed = text.replace("Ληξιαρχείο", "Ληξιαρχείο και Δημοτολόγιο")
    page.get_by_label("Αρχείο οργανογράμματος (CSV)").set_input_files(
        files=[{"name": "orgchart.csv", "mimeType": "text/csv", "buffer": changed.encode()}]
    )
    page.get_by_role("button", name="Προεπισκόπηση", exact=True).click()
    expect(page.get_by_role("main")).to_contain_text("~ unit DHM")
    axe_check(page)
    shoot(page, "import-preview")
    page.get_by_role("button", name="Εφαρμογή αυτών των αλλαγών").click()
    expect(page.get_by_role("status")).to_contain_text("Το οργανόγραμμα εισήχθη")
    expect(page.get_by_role("main")).to_contain_text("Δημοτολόγιο")


def test_an_administrator_runs_processes_timers_incidents_tokens_and_services(
    page: Page, shoot: Callable[[Page, str], None], live_polis: SimpleNamespace
) -> None:
    with session_scope(live_polis.factory) as session:
        # A timer whose next step failed for good: the state the worker leaves after its last try.
        deploy_definition(session, TIMER_THEN_BREAK, "timer_then_break.bpmn")
        dhm = session.scalars(select(Department).where(Department.code == "DHM")).one()
        case = start_case(session, "timer_then_break", department_id=dhm.id)
        wakeup = session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).one()
        session.execute(delete(Wakeup).where(Wakeup.id == wakeup.id))
        session.add(
            Incident(
                case_id=case.id,
                task_id=wakeup.task_id,
                kind="timer",
                bpmn_id="wait",
                handler="",
                error="ZeroDivisionError: division by zero (script task 'broken', line 1)",
                attempts=5,
                created_at=utcnow(),
            )
        )
        case_number = case.number
    sign_in(page, "admin")
    page.goto("/admin/processes")
    axe_check(page)
    shoot(page, "processes")
    page.get_by_role("link", name="Έκδοση πιστοποιητικού").first.click()
    expect(page.locator("#diagram.is-ready")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("v1")
    axe_check(page)
    shoot(page, "process-diagram")

    page.get_by_role("link", name="Χρονομετρητές").click()
    page.get_by_role("button", name="Παύση protocol_daily_report").click()
    expect(page.get_by_role("status")).to_contain_text("παύση")
    expect(page.get_by_role("main")).to_contain_text("Σε παύση")
    axe_check(page)
    shoot(page, "timers-paused")
    page.get_by_role("button", name="Συνέχιση protocol_daily_report").click()
    expect(page.get_by_role("status")).to_contain_text("τρέχει ξανά")

    page.get_by_role("link", name="Προβλήματα εκτέλεσης").click()
    expect(page.get_by_role("main")).to_contain_text("ZeroDivisionError")
    expect(page.get_by_role("main")).to_contain_text(case_number)
    axe_check(page)
    shoot(page, "incidents")
    page.get_by_role("button", name=f"Επανάληψη {case_number} wait").click()
    expect(page.get_by_role("status")).to_contain_text(case_number)

    page.get_by_role("link", name="Διακριτικά API").click()
    page.get_by_label("Όνομα", exact=True).fill("ΚΕΠ kiosk")
    page.locator("#f-owner").select_option("protokollo")
    page.get_by_role("button", name="Δημιουργία διακριτικού").click()
    secret = page.locator("#new-secret")
    expect(secret).to_have_text(re.compile(r"^polis_\S{20,}$"))
    axe_check(page)
    shoot(page, "token-created")
    page.goto("/admin/tokens")
    expect(page.locator("#new-secret")).to_have_count(0)
    page.get_by_role("button", name="Ανάκληση ΚΕΠ kiosk").click()
    expect(page.get_by_role("status")).to_contain_text("ανακλήθηκε")

    page.get_by_role("link", name="Κατάλογος υπηρεσιών").click()
    page.get_by_role("button", name="Απενεργοποίηση family_status").click()
    expect(page.get_by_role("status")).to_contain_text("family_status")
    axe_check(page)
    shoot(page, "services")
    page.goto("/services")
    expect(page.get_by_role("main")).not_to_contain_text("Πιστοποιητικό οικογενειακής κατάστασης")
    page.goto("/admin/services")
    page.get_by_role("button", name="Ξανά διαθέσιμη family_status").click()
    page.goto("/services")
    expect(page.get_by_role("main")).to_contain_text("Πιστοποιητικό οικογενειακής κατάστασης")


def test_a_head_names_their_own_substitute(page: Page, shoot: Callable[[Page, str], None]) -> None:
    sign_in(page, "proistamenos")
    page.get_by_role("link", name="Ο αναπληρωτής μου").click()
    start = athens_today() + timedelta(days=1)
    page.locator("#f-substitute").select_option("proistamenos.esodon")
    page.get_by_label("Από").fill(start.isoformat())
    page.get_by_label("Έως (συμπεριλαμβάνεται)").fill((start + timedelta(days=6)).isoformat())
    page.get_by_label("Αιτιολογία").fill("κανονική άδεια")
    page.get_by_role("button", name="Καταχώριση αναπληρωτή").click()
    expect(page.get_by_role("status")).to_contain_text(f"{start:%d/%m/%Y}")
    page.get_by_label("Από").fill((start + timedelta(days=3)).isoformat())
    page.get_by_label("Έως (συμπεριλαμβάνεται)").fill((start + timedelta(days=9)).isoformat())
    page.get_by_role("button", name="Καταχώριση αναπληρωτή").click()
    expect(page.get_by_role("alert")).to_contain_text(f"{start:%d/%m/%Y}")
    axe_check(page)
    shoot(page, "own-substitute-overlap")


def test_the_only_head_with_approvals_waiting_is_kept_until_the_unit_has_another(
    page: Page, shoot: Callable[[Page, str], None], live_polis: SimpleNamespace
) -> None:
    with session_scope(live_polis.factory) as session:
        dhm = session.scalars(select(Department).where(Department.code == "DHM")).one()
        case_id = str(start_case(session, "document_approval", department_id=dhm.id).id)
    act(live_polis, "ypallilos", case_id, {"title": "Απάντηση"})  # now it waits for the head
    sign_in(page, "admin")
    page.goto("/admin/people")
    page.get_by_role("button", name="Απενεργοποίηση anaplirotis").click()  # the unit's other head
    expect(page.get_by_role("status")).to_contain_text("anaplirotis")
    page.get_by_role("button", name="Απενεργοποίηση proistamenos", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("μόνος/η προϊστάμενος/η της DHM")
    # The position form is filled in for the new head.
    expect(page.locator("#f-position_unit")).to_have_value("DHM")
    expect(page.locator("#f-position_kind")).to_have_value("head")
    axe_check(page)
    shoot(page, "only-head-kept")
    page.locator("#f-person").select_option("proistamenos.esodon")
    page.get_by_role("button", name="Προσθήκη θέσης").click()
    expect(page.get_by_role("status")).to_be_visible()
    page.get_by_role("button", name="Απενεργοποίηση proistamenos", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("proistamenos")


def test_the_admin_sections_are_one_row_at_desk_width_and_tap_sized_on_a_phone(
    page: Page, shoot: Callable[[Page, str], None]
) -> None:
    """Nine sections: one clean row at 1280 px (no second row), on a 390 px phone a grid of
    links at least 44 px tall and nothing wider than the screen."""
    sign_in(page, "admin")
    page.goto("/admin/services")
    links = page.locator("nav.subnav a")
    expect(links).to_have_count(9)
    tops = {round(box["y"]) for box in (links.nth(i).bounding_box() for i in range(9)) if box}
    assert len(tops) == 1, f"the sections wrap into {len(tops)} rows at 1280 px"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    shoot(page, "admin-sections")
    page.set_viewport_size({"width": 390, "height": 844})
    for i in range(9):
        box = links.nth(i).bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
