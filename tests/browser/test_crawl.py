"""Every page a person can reach, crawled as each kind of visitor, in Greek and in English.

Starting from the pages a visitor lands on, the crawler follows every same-site link (as a
person clicking through would) and checks each HTML page: no server error, no JavaScript
error, a language on <html>, one <main> with an <h1>, and axe-core finds nothing serious or
critical. Downloads (PDFs, files) are fetched and must not fail either. Bounded: at most
MAX_PAGES pages per visitor and language.
"""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import DESK, _new_page, axe_violations, sign_in, submit_certificate_request

MAX_PAGES = 40
#: Links a crawler must not follow: they change the session rather than show a page.
SKIP = ("/logout", "/lang/", "/citizen/logout", "/citizen/oidc/")
VISITORS = {
    "anonymous": None,
    "clerk": "ypallilos",
    "head": "proistamenos",
    "protocol office": "protokollo",
    "admin": "admin",
}


def _links(page: Page, origin: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    found = []
    for href in hrefs:
        url = urljoin(page.url, href).split("#", 1)[0]
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != origin or any(parts.path.startswith(s) for s in SKIP):
            continue
        found.append(url)
    return found


def crawl(page: Page, origin: str, starts: list[str]) -> tuple[list[str], list[str]]:
    """Visit what ``starts`` lead to; return (pages checked, problems found)."""
    queue = deque(urljoin(origin, s) for s in starts)
    seen: set[str] = set(queue)
    checked: list[str] = []
    problems: list[str] = []
    while queue and len(checked) < MAX_PAGES:
        url = queue.popleft()
        head = page.request.get(url, max_redirects=5)
        if head.status >= 500:
            problems.append(f"{url}: HTTP {head.status}")
            continue
        if "text/html" not in head.headers.get("content-type", ""):
            continue  # a download: fetched above without a server error
        response = page.goto(url)
        status = response.status if response else 0
        if status >= 500:
            problems.append(f"{url}: HTTP {status}")
            continue
        checked.append(page.url)
        if not page.evaluate("document.documentElement.lang"):
            problems.append(f"{url}: <html> has no lang")
        if page.locator("main").count() != 1 or page.locator("h1").count() < 1:
            problems.append(f"{url}: needs one <main> and an <h1>")
        problems.extend(f"{url}: axe {v['id']} ({v['impact']}): {v['help']}" for v in axe_violations(page))
        for link in _links(page, origin):
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return checked, problems


@pytest.fixture(scope="module")
def seeded(live_polis: SimpleNamespace) -> SimpleNamespace:
    """A citizen's request waiting in the civil registry, so the staff pages have something to show."""
    submit_certificate_request(live_polis, applicant_name="Νίκος Κρητικός")
    return live_polis


@pytest.mark.parametrize("language", ["el", "en"])
@pytest.mark.parametrize("visitor", list(VISITORS))
def test_every_reachable_page_is_sound(
    browser: Browser, seeded: SimpleNamespace, visitor: str, language: str
) -> None:
    page = _new_page(browser, DESK, seeded)
    try:
        if language == "en":
            page.goto("/lang/en?next=/")
        username = VISITORS[visitor]
        if username:
            sign_in(page, username)
        starts = ["/", "/login", "/work", "/verify/unknown-code", "/track/unknown-code"]
        checked, problems = crawl(page, seeded.url, starts)
        errors = page.js_errors  # type: ignore[attr-defined]
    finally:
        page.context.close()
    print(f"{visitor}/{language}: {len(checked)} pages", *checked, sep="\n  ")
    assert len(checked) >= 3, f"the crawl reached too little: {checked}"
    assert problems == [], "\n".join(problems)
    assert errors == [], f"JavaScript errors: {errors}"
