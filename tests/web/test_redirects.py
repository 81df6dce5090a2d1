"""The open redirect of /lang and the sign-in ``next`` (issue 13 item 8): one check for all."""

from __future__ import annotations

from typing import Any

import pytest

from web.redirects import safe_next

EVIL = [
    "//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/\r\n/evil.example",
    " //evil.example",
]


@pytest.mark.parametrize("target", EVIL)
def test_safe_next_refuses_other_sites(target: str) -> None:
    assert safe_next(target, "/home") == "/home"


def test_safe_next_keeps_local_paths() -> None:
    assert safe_next("/tasks?view=mine#top", "/") == "/tasks?view=mine#top"


@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil.example", "/\\evil.example"])
def test_language_switch_does_not_redirect_off_site(client: Any, target: str) -> None:
    answer = client.get("/lang/en", query_string={"next": target})
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert "evil" not in location and not location.startswith("//")


def test_language_switch_goes_back_to_a_local_page(client: Any) -> None:
    answer = client.get("/lang/en", query_string={"next": "/track"})
    assert answer.headers["Location"] == "/track"


def test_login_next_does_not_redirect_off_site(client: Any, db_session: Any) -> None:
    from engine.people.accounts import hash_password
    from tests.protocol.factories import make_user

    user = make_user(db_session)
    user.password_hash = hash_password("correct horse battery")
    db_session.commit()
    with client.session_transaction() as session:
        session["_csrf"] = "t"
    answer = client.post(
        "/login?next=/%09/evil.example",
        data={"username": user.username, "password": "correct horse battery", "_csrf": "t"},
    )
    assert answer.status_code == 302, answer.text[:300]
    assert "evil" not in answer.headers["Location"]
