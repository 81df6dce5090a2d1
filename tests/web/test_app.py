"""The web skeleton: health, errors in JSON and HTML, sign-in, languages."""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from engine.people.demo import DEMO_PASSWORD, seed_demo_municipality
from storage.base import StorageUnavailable
from web.app import TRANSLATIONS


@pytest.fixture
def demo(db_session):
    seed_demo_municipality(db_session)
    db_session.commit()


def _csrf(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


@pytest.fixture
def worker_alive(session_factory):
    """A heartbeat as a running `polis worker` writes it."""
    from core.clock import utcnow
    from engine.workflow.jobs import beat

    beat(session_factory, "test-host:1", utcnow())


def test_healthz_reports_each_component(client, worker_alive):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "storage": "ok", "worker": "ok"}


def test_healthz_is_503_naming_the_broken_component(client, object_store, monkeypatch, worker_alive):
    def broken() -> None:
        raise StorageUnavailable("/srv/objects is not writable.")

    monkeypatch.setattr(object_store, "check", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["storage"] == "/srv/objects is not writable."
    assert response.json["database"] == "ok"


def test_api_errors_are_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.is_json
    assert response.json["error"] == "not_found"


def test_pages_are_greek_by_default_and_english_on_request(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert "Δεν βρέθηκε" in text
    assert 'lang="el"' in text
    client.get("/lang/en")
    english = client.get("/no-such-page").get_data(as_text=True)
    assert "Not found" in english
    assert 'lang="en"' in english


def test_staff_sign_in_and_out(client, demo):
    token = _csrf(client)
    response = client.post(
        "/login", data={"_csrf": token, "username": "ypallilos", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/").headers["Location"] == "/work"  # the landing page is the inbox
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Γιώργος Μαρκάκης" in home
    client.post("/logout", data={"_csrf": _csrf(client, "/work")})
    assert "Γιώργος Μαρκάκης" not in client.get("/").get_data(as_text=True)


def test_wrong_password_says_so_without_revealing_which_part(client, demo):
    token = _csrf(client)
    for username in ("ypallilos", "nobody"):
        page = client.post(
            "/login", data={"_csrf": token, "username": username, "password": "wrong-password"}
        )
        assert page.status_code == 200
        assert "Λάθος όνομα χρήστη ή κωδικός." in page.get_data(as_text=True)


def test_forms_without_the_csrf_token_are_refused(client, demo):
    response = client.post("/login", data={"username": "ypallilos", "password": DEMO_PASSWORD})
    assert response.status_code == 400
    assert "Δεν βρέθηκε" not in response.get_data(as_text=True)


def test_sign_in_redirects_only_to_local_paths(client, demo):
    token = _csrf(client)
    response = client.post(
        "/login?next=//evil.example/steal",
        data={"_csrf": token, "username": "ypallilos", "password": DEMO_PASSWORD},
    )
    assert response.headers["Location"] == "/"


def test_unexpected_errors_show_no_traceback(app, client):
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = client.get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_every_message_has_a_greek_translation():
    with open(TRANSLATIONS / "el" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    untranslated = [message.id for message in catalog if message.id and not message.string]
    assert untranslated == []


def test_every_message_in_the_code_and_templates_is_in_the_catalogue():
    """A string marked for translation but missing from messages.po shows in English to everyone."""
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}
    marked = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(TRANSLATIONS.parent),
            method_map,
            # As web/babel.cfg: without the extension, templates using {% do %} are skipped silently.
            options_map={"**/templates/**.html": {"extensions": "jinja2.ext.do"}},
            keywords=keywords,
        )
    }
    with open(TRANSLATIONS / "el" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        # A plural message's id is (singular, plural); the code is checked by its singular.
        known = {
            message.id if isinstance(message.id, str) else message.id[0]
            for message in read_po(handle)
            if message.id
        }
    assert sorted(marked - known) == []


def test_security_headers(client):
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
