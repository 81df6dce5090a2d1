"""The outgoing-document tools in chromium, with full-page screenshots and axe-core on every
page: the clerk uploads a DOCX body, has an attachment refused and another taken, restores a
version; edits the chain (a refused chain, a person added for opinion and moved up, the chain
saved for the type and reused) and sends the draft to it; the signatory's signature waits on a
time-stamping service that is down and is retried; the signed document's follow-up buttons
(ορθή επανάληψη); the protocol office marks the post copy printed; the citizen's tracking page
lists the document with its ΕΞ number."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.orm import session_scope
from engine.outgoing.chain import approve
from engine.outgoing.drafts import BodyInput, RecipientInput, create_draft
from engine.people.models import User
from engine.workflow.commands import start_case
from engine.workflow.models import Case
from tests.browser.conftest import axe_check, sign_in
from tests.browser.test_outgoing_documents import live_polis, wait_until_sent  # noqa: F401  (fixture)
from tests.outgoing.test_drafts import docx
from tests.signing.pkitools import ARCH, TestPki

Shoot = Callable[[Page, str], None]
SUBJECT = "Απάντηση για την αποκατάσταση του πεζοδρομίου"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _people(live_polis: SimpleNamespace, *usernames: str) -> dict[str, User]:  # noqa: F811
    with session_scope(live_polis.factory) as session:
        found = {u.username: u for u in session.scalars(select(User).where(User.username.in_(usernames)))}
        for user in found.values():
            session.expunge(user)
    return found


def test_files_chain_retry_follow_ups_print_list_and_tracking(
    page: Page,
    new_page: Callable[..., Page],
    shoot: Shoot,
    live_polis: SimpleNamespace,  # noqa: F811
    browser_pki: TestPki,
) -> None:
    with session_scope(live_polis.factory) as session:
        clerk = session.scalars(select(User).where(User.username == "ypallilos")).one()
        request = start_case(
            session, "general_request", department_id=clerk.department_id, applicant={"name": "Άννα Πολίτη"}
        )
        tracking_code = session.get(Case, request.id).tracking_code  # type: ignore[union-attr]
        draft = create_draft(
            session,
            live_polis.store,
            clerk,
            kind="letter",
            subject=SUBJECT,
            recipients=[
                RecipientInput("post", "Ιωάννης Πολίτης", postal_address="Οδός Ανεμώνης 1, Χανιά"),
                RecipientInput("citizen", "Άννα Πολίτη", citizen_case_id=request.id),
            ],
            body=BodyInput(template_text="Σας ενημερώνουμε ότι το πεζοδρόμιο αποκαταστάθηκε."),
        )
        draft_id = draft.id
    url = f"/work/outgoing/{draft_id}"

    # Files: a DOCX body as version 2, a refused and an accepted attachment, version 1 restored.
    sign_in(page, "ypallilos")
    page.goto(url)
    page.set_input_files(
        "#f-file",
        files=[
            {
                "name": "apantisi.docx",
                "mimeType": "application/octet-stream",
                "buffer": docx("Το πεζοδρόμιο", "αποκαταστάθηκε."),
            }
        ],
    )
    page.get_by_role("button", name="Ανέβασμα του αρχείου").click()
    expect(page.locator(".flashes")).to_contain_text("έκδοση 2")
    page.set_input_files(
        "#f-attachment", files=[{"name": "simeioseis.txt", "mimeType": "text/plain", "buffer": b"x"}]
    )
    page.get_by_role("button", name="Επισύναψη").click()
    expect(page.locator("#f-attachment-error")).to_contain_text("Επισυνάψτε PDF, εικόνα")
    axe_check(page)
    shoot(page, "clerk-attachment-refused")
    page.set_input_files(
        "#f-attachment", files=[{"name": "xartis.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.get_by_role("button", name="Επισύναψη").click()
    expect(page.locator("#attachments")).to_contain_text("xartis.png")
    expect(page.locator("#diff")).to_contain_text("+Το πεζοδρόμιο")
    axe_check(page)
    shoot(page, "clerk-draft-files-versions-and-diff")
    page.locator("form[action$='/versions/1/restore'] button").click()
    expect(page.locator(".flashes")).to_contain_text("ως έκδοση 3")

    # The chain: refused with the signatory for opinion; a head added for opinion, moved up,
    # saved for letters, loaded again, and the draft sent to it.
    page.locator("#chain-link").first.click()
    expect(page.locator("h1")).to_have_text("Αλυσίδα υπογραφών")
    axe_check(page)
    shoot(page, "chain-page-from-the-organisation-chart")
    page.select_option("#kind_1", "opinion")
    page.locator(".actions button[value=check]").click()
    expect(page.locator("#chain-problem")).to_contain_text("Το τελευταίο βήμα πρέπει να είναι ένας υπογράφων")
    axe_check(page)
    shoot(page, "chain-refused")
    page.select_option("#kind_1", "sign")
    page.select_option("#person_2", label="Άννα Τζανακάκη — Τμήμα Εσόδων")
    page.select_option("#kind_2", "opinion")
    page.get_by_role("button", name="Προσθήκη των προσώπων που επιλέξατε").click()
    page.locator("button[value='up:2']").click()
    expect(page.locator("#person_1 option[selected]")).to_have_text("Άννα Τζανακάκη — Τμήμα Εσόδων")
    page.fill("#f-name", "Με γνώμη του Τμήματος Εσόδων")
    page.get_by_role("button", name="Αποθήκευση της αλυσίδας για αυτόν τον τύπο").click()
    expect(page.locator(".flashes")).to_contain_text("Η αλυσίδα αποθηκεύτηκε")
    page.select_option("#f-saved", label="Με γνώμη του Τμήματος Εσόδων")
    page.get_by_role("button", name="Χρήση αυτής της αλυσίδας").click()
    expect(page.locator("#person_1 option[selected]")).to_have_text("Άννα Τζανακάκη — Τμήμα Εσόδων")
    axe_check(page)
    shoot(page, "chain-edited-saved-and-loaded")
    page.get_by_role("button", name="Αποστολή σε αυτή την αλυσίδα").click()
    expect(page.locator("#chain")).to_contain_text("Για γνωμοδότηση")
    axe_check(page)
    shoot(page, "clerk-draft-sent-to-the-edited-chain")

    people = _people(live_polis, "proistamenos", "proistamenos.esodon")
    with session_scope(live_polis.factory) as session:
        approve(session, draft_id, people["proistamenos"])
    with session_scope(live_polis.factory) as session:
        approve(session, draft_id, people["proistamenos.esodon"])

    # The signatory signs while the time-stamping service is down: it waits; then the retry.
    deputy = new_page()
    sign_in(deputy, "antidimarchos")
    browser_pki.server.down = {"tsa"}
    try:
        deputy.goto("/work/outgoing/sign")
        deputy.fill("#f-credential", f"{ARCH}/official")
        deputy.fill("#f-pin", "1234")
        deputy.fill("#f-otp", "123456")
        deputy.get_by_role("button", name="Υπογραφή των επιλεγμένων εγγράφων").click()
        expect(deputy.locator("#result")).to_contain_text("αναμένει την υπηρεσία χρονοσήμανσης")
        deputy.goto(url)
        expect(deputy.locator("#retry-title")).to_be_visible()
        axe_check(deputy)
        shoot(deputy, "signatory-signature-waiting-for-the-tsa")
    finally:
        browser_pki.server.down = set()
    deputy.get_by_role("button", name="Νέα προσπάθεια υπογραφής").click()
    expect(deputy.locator(".flashes")).to_contain_text("Υπογράφηκε")
    assert wait_until_sent(live_polis, SUBJECT).status == "sent"

    # Follow-ups on the signed document's page.
    page.goto(url)
    expect(page.locator("#followups-title")).to_be_visible()
    axe_check(page)
    shoot(page, "clerk-signed-document-follow-ups")
    page.get_by_role("button", name="Ορθή επανάληψη").click()
    expect(page.locator("h1")).to_contain_text("(ορθή επανάληψη)")
    axe_check(page)
    shoot(page, "clerk-correction-draft")

    # The protocol office prints the post copy.
    office = new_page()
    sign_in(office, "protokollo")
    office.goto("/work/outgoing?folder=dispatch")
    expect(office.locator("#outgoing")).to_contain_text("Ιωάννης Πολίτης")
    axe_check(office)
    shoot(office, "protocol-office-print-list")
    office.locator("#outgoing button").first.click()
    expect(office.locator(".flashes")).to_contain_text("Σημειώθηκε ως εκτυπωμένο")
    axe_check(office)
    shoot(office, "protocol-office-printed")

    # The citizen's tracking page lists the document with its ΕΞ number and links.
    citizen = new_page()
    citizen.goto(f"/track/{tracking_code}")
    expect(citizen.locator("#issued-documents")).to_contain_text(SUBJECT)
    expect(citizen.locator("#issued-documents")).to_contain_text(" ΕΞ ")
    axe_check(citizen)
    shoot(citizen, "citizen-tracking-page-with-the-document")
