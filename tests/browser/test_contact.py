"""The contact form (issue 17 item 5): the citizen picks a subject, which picks the department;
the message passes the anti-spam check, waits for the emailed link, is registered ΕΙΣ and is
answered through the general-request process by that department. Greek and English, desk and
phone, axe-checked, screenshots saved."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace

from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.orm import session_scope
from engine.notifications.models import Notification
from engine.people.models import Department, User
from engine.protocol.models import ProtocolEntry
from engine.workflow.commands import claim_task, complete_task
from engine.workflow.models import Case, CaseTask
from tests.browser.conftest import axe_check
from tests.browser.test_portal import (
    _axe_both_languages,
    _axe_both_languages_keeping_answers,
    _confirm_by_email,
    _wait_for_the_check,
)

Shoot = Callable[[Page, str], None]


def _answer_as_the_department(live_polis: SimpleNamespace, code: str, reply: str) -> str:
    """A clerk of the case's own department takes the task and replies; returns the department."""
    with session_scope(live_polis.factory) as session:
        case = session.scalars(select(Case).where(Case.tracking_code == code)).one()
        department = session.get(Department, case.department_id)
        assert department is not None
        task = session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).one()
        clerk = next(
            u
            for u in session.scalars(select(User).where(User.department_id == department.id))
            if "clerk" in u.roles
        )
        claim_task(session, task.task_id, clerk)
        complete_task(session, task.task_id, {"decision": "reply", "reply": reply}, clerk)
        return department.code


def _sent(live_polis: SimpleNamespace, email: str, template: str, seconds: float = 20.0) -> str:
    deadline = time.monotonic() + seconds
    while True:
        with session_scope(live_polis.factory) as session:
            body = session.scalars(
                select(Notification.body_text).where(
                    Notification.recipient == email, Notification.template_key == template
                )
            ).first()
        if body is not None:
            return body
        assert time.monotonic() < deadline, f"no {template} email to {email}"
        time.sleep(0.3)


def test_a_message_to_the_department_the_subject_picks_is_registered_and_answered(
    page: Page, shoot: Shoot, live_polis: SimpleNamespace
) -> None:
    email = f"giorgos.{uuid.uuid4().hex[:8]}@example.gr"
    page.goto("/")
    page.get_by_role("contentinfo").get_by_role("link", name="Επικοινωνία").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Επικοινωνία με τον Δήμο")
    _axe_both_languages(page)
    shoot(page, "contact-start")
    page.get_by_role("button", name="Ξεκινήστε τώρα").click()

    page.get_by_label("Θέμα").select_option(
        label="Δρόμοι, φωτισμός, καθαριότητα, πράσινο (Τεχνικές Υπηρεσίες)"
    )
    page.get_by_label("Το μήνυμά σας").fill(
        "Ο φανοστάτης έξω από το νούμερο 12 είναι σβηστός εδώ και μια εβδομάδα."
    )
    page.get_by_label("Ονοματεπώνυμο").fill("Γιώργος Μαρκάκης")
    page.locator("[id='f-applicant.email']").fill(email)
    page.get_by_role("button", name="Συνέχεια").click()  # the title is missing
    expect(page.get_by_role("alert")).to_contain_text("Τίτλος")
    expect(page.get_by_label("Το μήνυμά σας")).to_have_value(re.compile("φανοστάτης"))  # nothing lost
    _axe_both_languages_keeping_answers(page, "")
    shoot(page, "contact-missing-title")
    page.get_by_label("Τίτλος").fill("Σβηστός φανοστάτης στην οδό Χάληδων")
    page.get_by_role("button", name="Συνέχεια").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Ελέγξτε τις απαντήσεις")
    expect(page.get_by_role("main")).to_contain_text("Τεχνικές Υπηρεσίες")
    _wait_for_the_check(page)
    _axe_both_languages_keeping_answers(page, "")
    _wait_for_the_check(page)
    shoot(page, "contact-check")
    page.get_by_role("button", name="Υποβολή της αίτησης").click()
    _confirm_by_email(page, live_polis, email)

    expect(page.get_by_role("heading", level=1)).to_have_text("Η αίτησή σας υποβλήθηκε")
    expect(page.locator(".panel")).to_contain_text("ΕΙΣ")
    axe_check(page)
    shoot(page, "contact-receipt")
    page.get_by_role("link", name="Παρακολουθήστε την αίτησή σας").click()
    code = page.url.rsplit("/", 1)[1]
    with session_scope(live_polis.factory) as session:
        case = session.scalars(select(Case).where(Case.tracking_code == code)).one()
        assert case.process_id == "general_request"
        entry = session.scalars(select(ProtocolEntry).where(ProtocolEntry.case_id == case.id)).first()
        assert entry is not None and entry.direction == "ΕΙΣ"

    assert _answer_as_the_department(live_polis, code, "Ο φανοστάτης επισκευάστηκε σήμερα.") == "TEX"
    answer = _sent(live_polis, email, "request_answered")
    assert "Ο φανοστάτης επισκευάστηκε σήμερα." in answer


def test_the_contact_form_in_english_on_a_phone(phone_page: Page, shoot: Shoot) -> None:
    page = phone_page
    page.goto("/lang/en?next=/contact")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contact the municipality")
    page.get_by_role("button", name="Start now").click()
    expect(page.get_by_label("Subject area")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Title")
    axe_check(page)
    shoot(page, "contact-english-errors")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the contact form scrolls sideways on a phone ({width} px)"
