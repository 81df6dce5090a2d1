"""Browser tests: a live Polis on loopback, Debian's chromium driven by Playwright, axe-core.

One Polis per test module (database of its own cloned from the migrated template, demo
municipality and processes deployed, file storage, the worker in a thread, a B-B sealer on a
synthetic PKI), served by werkzeug in a thread. Each test gets a fresh browser context, so
sign-ins do not leak between tests. ``shoot`` saves full-page screenshots at 1280 px and at
390x844 under test-artifacts/screenshots/ (gitignored) — look at them. ``axe_check`` injects
axe-core and fails on any serious or critical violation.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from werkzeug.serving import make_server

from core.orm import make_engine, make_session_factory, session_scope
from core.settings import Settings
from engine.people.demo import DEMO_PASSWORD, seed_demo_municipality
from engine.requests.handlers import configure_handlers, reset_handlers
from engine.workflow.definitions import deploy_directory
from engine.workflow.jobs import start_worker_thread
from signing.sealer import PadesLevel, Sealer
from signing.signers import Pkcs12Signer
from storage.filesystem import FilesystemStore
from tests.conftest import TEMPLATE_DB, TestServer
from tests.signing.pkitools import TestPki, running_pki
from tests.storage.conftest import free_port

HERE = Path(__file__).parent
AXE = HERE / "vendor" / "axe.min.js"
SCREENSHOTS = HERE.parent.parent / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("POLIS_TEST_CHROMIUM", "/usr/bin/chromium")
DESK = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser_pki() -> Iterator[TestPki]:
    """The synthetic PKI whose signer seals the certificates the tests issue."""
    with running_pki() as pki:
        yield pki


@pytest.fixture(scope="module")
def live_polis(
    pg_server: TestServer, pg_template: str, tmp_path_factory: pytest.TempPathFactory, browser_pki: TestPki
) -> Iterator[SimpleNamespace]:
    """Polis serving HTTP on 127.0.0.1 with its worker, on a database of the module's own."""
    name = f"polis_browser_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = pg_server.create(name, template=TEMPLATE_DB)
    root = tmp_path_factory.mktemp("polis-browser")
    port = free_port()
    settings = Settings(
        env="test",
        var_dir=root / "var",
        database_url=url,
        storage_url=(root / "objects").as_uri(),
        secret_key="browser-secret-key-browser-secret",
        base_url=f"http://127.0.0.1:{port}",
        municipality_name="Δήμος Χανίων",
        # Every journey submits from 127.0.0.1; the limits have tests of their own.
        submissions_per_address_hour=1000,
    )
    engine = make_engine(url, pool_size=6)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        seed_demo_municipality(session)
        deploy_directory(session)
    store = FilesystemStore(root / "objects", secret=settings.secret(), base_url=settings.public_base_url)
    sealer = Sealer(Pkcs12Signer(browser_pki.p12("signer"), b"test-pass"), level=PadesLevel.B_B)
    configure_handlers(settings=settings, store=store, sealer=sealer)
    from web.app import create_app

    app = create_app(settings, session_factory=factory, store=store)
    server = make_server("127.0.0.1", port, app, threaded=True)
    web = threading.Thread(target=server.serve_forever, name="polis-browser-web", daemon=True)
    web.start()
    worker, stop = start_worker_thread(factory, poll_seconds=0.2, settings=settings)
    try:
        yield SimpleNamespace(url=settings.base_url, factory=factory, settings=settings, store=store)
    finally:
        stop.set()
        worker.join(30)
        server.shutdown()
        web.join(10)
        reset_handlers()
        engine.dispose()
        pg_server.drop(name)


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright's driver for the browser tests only.

    Its sync API keeps an asyncio loop running in the main thread while it lives; ending it
    with this package lets later tests call ``asyncio.run`` (the CSC signer does).
    """
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's chromium, headless."""
    launched = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
    )
    yield launched
    launched.close()


def _new_page(browser: Browser, viewport: dict[str, int], live_polis: SimpleNamespace) -> Page:
    context = browser.new_context(viewport=viewport, base_url=live_polis.url, locale="el-GR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def page(browser: Browser, live_polis: SimpleNamespace) -> Iterator[Page]:
    """A fresh browser tab at desk width (1280 px); fails the test on a JavaScript error."""
    tab = _new_page(browser, DESK, live_polis)
    yield tab
    errors = tab.js_errors  # type: ignore[attr-defined]
    tab.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def phone_page(browser: Browser, live_polis: SimpleNamespace) -> Iterator[Page]:
    """A fresh browser tab the size of a phone (390x844)."""
    tab = _new_page(browser, PHONE, live_polis)
    yield tab
    tab.context.close()


@pytest.fixture
def new_page(browser: Browser, live_polis: SimpleNamespace) -> Iterator[Callable[..., Page]]:
    """Open more tabs, each in its own context (another member of staff)."""
    opened: list[Page] = []

    def open_tab(viewport: dict[str, int] = DESK) -> Page:
        tab = _new_page(browser, viewport, live_polis)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.context.close()


def sign_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in on the staff form, as a person does."""
    page.goto("/login")
    page.get_by_label(re.compile("Όνομα χρήστη|Username")).fill(username)
    page.get_by_label(re.compile("Κωδικός|Password")).fill(password)
    page.get_by_role("button", name=re.compile("Σύνδεση|Sign in")).click()
    page.wait_for_load_state("load")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Callable[[Page, str], None]:
    """Save a full-page screenshot of ``page`` at its width and, for desk tabs, at 390x844 too."""
    folder = SCREENSHOTS / _slug(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)  # only this run's pictures
    folder.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 1000))

    def take(page: Page, step: str) -> None:
        number = next(counter)
        # Previews are drawn on the server and arrive after the page: wait for them.
        page.wait_for_load_state("networkidle")
        viewport = page.viewport_size or DESK
        page.screenshot(
            path=str(folder / f"{number:02d}-{_slug(step)}-{viewport['width']}.png"), full_page=True
        )
        if viewport["width"] > PHONE["width"]:
            page.set_viewport_size(PHONE)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(folder / f"{number:02d}-{_slug(step)}-390.png"), full_page=True)
            page.set_viewport_size(viewport)

    return take


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.1 AA rules)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the page's strict CSP does not govern
        # (add_script_tag inserts an inline <script>, which that CSP rightly refuses).
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def axe_check(page: Page) -> None:
    """Fail with axe-core's own words if the page has a serious or critical violation."""
    bad = axe_violations(page)
    assert not bad, f"axe-core on {page.url}:\n{json.dumps(bad, ensure_ascii=False, indent=2)}"


def submit_certificate_request(
    live_polis: SimpleNamespace, applicant_name: str = "Ελένη Παπαδοπούλου"
) -> Any:
    """A citizen's family-status certificate request, as the portal submits it (committed)."""
    from engine.requests import submit_request
    from tests.requests.conftest import applicant, form, upload
    from tests.signing.pkitools import simple_pdf

    with session_scope(live_polis.factory) as session:
        return submit_request(
            session,
            live_polis.store,
            service_code="family_status",
            form=form("family_status"),
            attachments=[upload("id_copy", "tautotita.pdf", simple_pdf(1, "Deltio taftotitas - Eleni"))],
            applicant=applicant("email", name=applicant_name),
            settings=live_polis.settings,
        )


def open_task_id(live_polis: SimpleNamespace, case_id: str) -> Any:
    """The id of the case's one open task."""
    from sqlalchemy import select

    from engine.workflow.models import CaseTask

    with session_scope(live_polis.factory) as session:
        return session.scalars(select(CaseTask.task_id).where(CaseTask.case_id == case_id)).one()


def act(live_polis: SimpleNamespace, username: str, case_id: str, data: dict[str, Any]) -> None:
    """``username`` claims (if a clerk's task) and completes the case's open task, as the pages do."""
    from sqlalchemy import select

    from engine.people.models import User
    from engine.workflow.commands import claim_task, complete_task
    from engine.workflow.models import CaseTask

    with session_scope(live_polis.factory) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        task = session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)).one()
        if task.role == "clerk":
            claim_task(session, task.task_id, user)
        complete_task(session, task.task_id, data, user)


def ensure_user(live_polis: SimpleNamespace, username: str, full_name: str, roles: list[str]) -> None:
    """A civil-registry (DHM) member of staff with the demo password, if missing."""
    from sqlalchemy import select

    from engine.people.accounts import create_user
    from engine.people.models import Department, User

    with session_scope(live_polis.factory) as session:
        if session.scalars(select(User).where(User.username == username)).first() is not None:
            return
        department = session.scalars(select(Department).where(Department.code == "DHM")).one()
        create_user(
            session,
            username=username,
            full_name=full_name,
            password=DEMO_PASSWORD,
            department=department,
            roles=roles,
        )
