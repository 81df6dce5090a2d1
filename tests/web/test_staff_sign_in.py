"""Staff sign-in: throttled per account and per address across workers; sessions end on
sign-out, password change and deactivation (issue 13 item 5)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.people.accounts import change_password, deactivate_user, hash_password
from engine.people.models import User
from tests.protocol.factories import make_user
from web.app import create_app
from web.auth import staff as auth
from web.ratelimit import SharedWindow

PASSWORD = "correct horse battery"


@pytest.fixture
def staff(db_session: Session) -> User:
    user = make_user(db_session)
    user.password_hash = hash_password(PASSWORD)
    db_session.commit()
    return user


def _login(client: Any, username: str, password: str, address: str = "10.9.0.1") -> Any:
    with client.session_transaction() as session:
        session["_csrf"] = "t"
    return client.post(
        "/login",
        data={"username": username, "password": password, "_csrf": "t"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failures_per_account_block_even_the_right_password(client: Any, staff: User) -> None:
    for attempt in range(auth.LOGIN_FAILURES_PER_ACCOUNT.limit):
        answer = _login(client, staff.username, f"wrong {attempt}", address=f"10.9.1.{attempt}")
        assert answer.status_code == 200 and "user_id" not in _session(client)
    blocked = _login(client, staff.username, PASSWORD, address="10.9.2.1")
    assert blocked.status_code == 429
    assert "user_id" not in _session(client)


def test_attempts_per_address_are_limited(client: Any, staff: User, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same limiter with a small limit: every attempt costs an argon2 verification.
    monkeypatch.setattr(auth, "LOGIN_PER_ADDRESS", SharedWindow("staff_login_per_ip", limit=4, window=300.0))
    codes = [
        _login(client, f"nobody{n}", "whatever pass", address="10.9.3.1").status_code
        for n in range(auth.LOGIN_PER_ADDRESS.limit + 1)
    ]
    assert set(codes[:-1]) == {200} and codes[-1] == 429


def test_the_counters_are_shared_by_workers(
    test_settings: Settings, session_factory: Any, object_store: Any, staff: User
) -> None:
    # Two app instances stand for two gunicorn workers (or two servers).
    first, second = (
        create_app(test_settings, session_factory=session_factory, store=object_store).test_client()
        for _ in range(2)
    )
    limit = auth.LOGIN_FAILURES_PER_ACCOUNT.limit
    for attempt in range(limit):
        _login(first if attempt % 2 else second, staff.username, "wrong", address=f"10.9.4.{attempt}")
    assert _login(first, staff.username, PASSWORD).status_code == 429
    assert _login(second, staff.username, PASSWORD).status_code == 429


def test_a_good_sign_in_clears_the_account_failures(client: Any, staff: User) -> None:
    for _ in range(auth.LOGIN_FAILURES_PER_ACCOUNT.limit - 1):
        _login(client, staff.username, "wrong")
    assert _login(client, staff.username, PASSWORD).status_code == 302
    for _ in range(auth.LOGIN_FAILURES_PER_ACCOUNT.limit - 1):
        _login(client, staff.username, "wrong")
    assert _login(client, staff.username, PASSWORD).status_code == 302


def _session(client: Any) -> dict[str, Any]:
    with client.session_transaction() as session:
        return dict(session)


def _copy(app: Any, client: Any) -> Any:
    """A second browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_sign_out_ends_a_copied_session_too(app: Any, client: Any, staff: User) -> None:
    assert _login(client, staff.username, PASSWORD).status_code == 302
    thief = _copy(app, client)
    assert thief.get("/api/v1/me").status_code == 200
    me = client.get("/api/v1/me").json
    client.post("/logout", data={"_csrf": me["csrf_token"]})
    assert thief.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me").status_code == 401


def test_a_password_change_ends_older_sessions(
    app: Any, client: Any, staff: User, db_session: Session
) -> None:
    assert _login(client, staff.username, PASSWORD).status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    change_password(db_session, staff, "a brand new password")
    db_session.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_deactivation_ends_sessions(app: Any, client: Any, staff: User, db_session: Session) -> None:
    assert _login(client, staff.username, PASSWORD).status_code == 302
    deactivate_user(db_session, staff)
    db_session.commit()
    assert client.get("/api/v1/me").status_code == 401
    assert _login(client, staff.username, PASSWORD).status_code == 200  # the form again
