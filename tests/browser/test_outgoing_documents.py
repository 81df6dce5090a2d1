"""Outgoing documents in chromium: a clerk writes a reply from the letter template, sends it to
the chain the organisation chart gives (head of department → the deputy mayor with delegated
signature), the head approves with a reservation, the deputy mayor returns it with a comment,
the clerk saves a new version and sends it again, the head approves; the deputy mayor signs it
and a second waiting document in one batch through the CSC dummy; both get ΕΞ numbers, the
external body receives the email with the signed PDF (aiosmtpd on loopback) and the internal
unit finds it registered ΕΙΣ in its folder. Screenshots at 1280 and 390 px, axe-core on every
page."""

from __future__ import annotations

import email
import email.policy
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Page, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from core.orm import make_engine, make_session_factory, session_scope
from core.settings import Settings
from engine.outgoing.chain import StepSpec, submit
from engine.outgoing.drafts import BodyInput, RecipientInput, create_draft
from engine.outgoing.models import OutgoingDocument
from engine.people.demo import seed_demo_municipality
from engine.people.models import User
from engine.requests.handlers import configure_handlers, reset_handlers
from engine.workflow.definitions import deploy_directory
from engine.workflow.jobs import start_worker_thread
from signing.sealer import PadesLevel, Sealer
from signing.signers import Pkcs12Signer
from storage.filesystem import FilesystemStore
from tests import conftest as root_fixtures
from tests.browser.conftest import axe_check, sign_in
from tests.outgoing.conftest import Mailbox
from tests.signing.pkitools import ARCH, TestPki, csc_server
from tests.storage.conftest import free_port

Shoot = Callable[[Page, str], None]


@pytest.fixture(scope="module")
def live_polis(
    pg_server: root_fixtures.TestServer,
    pg_template: str,
    tmp_path_factory: pytest.TempPathFactory,
    browser_pki: TestPki,
) -> Iterator[SimpleNamespace]:
    """The browser tests' live Polis (tests/browser/conftest.py), plus what outgoing documents
    need: the officials' CSC service (the dummy), B-LT signatures with the test TSA, and a
    mailbox on loopback SMTP."""
    name = f"polis_browser_out_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = pg_server.create(name, template=root_fixtures.TEMPLATE_DB)
    root = tmp_path_factory.mktemp("polis-browser-outgoing")
    port, smtp_port = free_port(), free_port()
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    with csc_server(browser_pki) as csc_url:
        settings = Settings(
            env="test",
            var_dir=root / "var",
            database_url=url,
            storage_url=(root / "objects").as_uri(),
            secret_key="browser-secret-key-browser-secret",
            base_url=f"http://127.0.0.1:{port}",
            municipality_name="Δήμος Χανίων",
            officials_csc_url=csc_url,
            signing_signer="pkcs12",
            signing_pkcs12_path=browser_pki.p12("qualified"),
            signing_tsa_url=browser_pki.pki.tsa_url,
            signing_trust_roots=str(browser_pki.root_pem),
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_starttls=False,
        )
        engine = make_engine(url, pool_size=6)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            seed_demo_municipality(session)
            deploy_directory(session)
        store = FilesystemStore(root / "objects", secret=settings.secret(), base_url=settings.public_base_url)
        sealer = Sealer(
            Pkcs12Signer(browser_pki.p12("qualified"), b"test-pass"),
            level=PadesLevel.B_LT,
            tsa_url=browser_pki.pki.tsa_url,
            trust_roots=[browser_pki.root],
        )
        configure_handlers(settings=settings, store=store, sealer=sealer)
        from web.app import create_app

        app = create_app(settings, session_factory=factory, store=store)
        server = make_server("127.0.0.1", port, app, threaded=True)
        web = threading.Thread(target=server.serve_forever, name="polis-browser-web", daemon=True)
        web.start()
        worker, stop = start_worker_thread(factory, poll_seconds=0.2, settings=settings)
        try:
            yield SimpleNamespace(
                url=settings.base_url, factory=factory, settings=settings, store=store, mailbox=mailbox
            )
        finally:
            stop.set()
            worker.join(30)
            server.shutdown()
            web.join(10)
            reset_handlers()
            engine.dispose()
            controller.stop()
            pg_server.drop(name)


def second_waiting_document(live_polis: SimpleNamespace) -> None:
    """Another letter by the same clerk, waiting for the deputy mayor's signature."""
    with session_scope(live_polis.factory) as session:
        clerk = session.scalars(select(User).where(User.username == "ypallilos")).one()
        deputy = session.scalars(select(User).where(User.username == "antidimarchos")).one()
        draft = create_draft(
            session,
            live_polis.store,
            clerk,
            kind="letter",
            subject="Διαβίβαση στοιχείων προϋπολογισμού",
            recipients=[
                RecipientInput("external", "Αποκεντρωμένη Διοίκηση", email="grammateia@apdkritis.example.gr")
            ],
            body=BodyInput(template_text="Σας διαβιβάζουμε τα στοιχεία."),
        )
        submit(session, draft.id, clerk, [StepSpec(deputy.id)])


def wait_until_sent(live_polis: SimpleNamespace, subject: str) -> OutgoingDocument:
    """The worker registers and dispatches in the background: wait for it (at most 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        with session_scope(live_polis.factory) as session:
            found = session.scalars(select(OutgoingDocument).where(OutgoingDocument.subject == subject)).one()
            session.expunge(found)
        if found.status == "sent" or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


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

    # The deputy mayor signs it and a second waiting document in one batch (CSC dummy).
    second_waiting_document(live_polis)
    deputy.goto("/work/outgoing?folder=to_sign")
    deputy.get_by_role("link", name="Υπογραφή εγγράφων").click()
    expect(deputy.locator("main form")).to_contain_text("Διαβίβαση στοιχείων προϋπολογισμού")
    deputy.fill("#f-credential", f"{ARCH}/official")
    deputy.fill("#f-pin", "1234")
    deputy.fill("#f-otp", "123456")
    axe_check(deputy)
    shoot(deputy, "signatory-batch-sign")
    deputy.get_by_role("button", name="Υπογραφή των επιλεγμένων εγγράφων").click()
    expect(deputy.locator("#result li")).to_have_count(2)
    expect(deputy.locator("#result")).not_to_contain_text("Δεν υπογράφηκε")
    axe_check(deputy)
    shoot(deputy, "signatory-batch-signed")

    first = wait_until_sent(live_polis, SUBJECT)
    second = wait_until_sent(live_polis, "Διαβίβαση στοιχείων προϋπολογισμού")
    assert (first.status, second.status) == ("sent", "sent")
    deputy.goto(document_url)
    expect(deputy.locator("main")).to_contain_text(" ΕΞ ")
    expect(deputy.locator("main")).to_contain_text("/verify/")
    axe_check(deputy)
    shoot(deputy, "signatory-document-sent")

    # The external body received the email with the signed PDF and the verification link.
    messages = [
        email.message_from_bytes(raw, policy=email.policy.default) for raw in live_polis.mailbox.messages
    ]
    to_crete = [m for m in messages if m["To"] == "protocol@crete.example.gr"]
    assert len(to_crete) == 1 and " ΕΞ " in to_crete[0]["Subject"]
    parts: dict[str, Any] = {part.get_content_type(): part for part in to_crete[0].walk()}
    assert parts["application/pdf"].get_payload(decode=True).startswith(b"%PDF-")
    assert f"/verify/{first.verification_code}" in parts["text/plain"].get_payload(decode=True).decode()

    # The verification page names the signatory.
    deputy.goto(f"/verify/{first.verification_code}")
    expect(deputy.locator("main")).to_contain_text("Χρύσα Σπανουδάκη")
    shoot(deputy, "verification-page")

    # The internal recipient unit finds it registered ΕΙΣ in its folder.
    revenue = new_page()
    sign_in(revenue, "proistamenos.esodon")
    revenue.goto("/work/documents?folder=action")
    expect(revenue.locator("#documents")).to_contain_text(SUBJECT)
    expect(revenue.locator("#documents")).to_contain_text(" ΕΙΣ ")
    axe_check(revenue)
    shoot(revenue, "internal-unit-folder")
