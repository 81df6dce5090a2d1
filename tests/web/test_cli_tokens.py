"""``polis tokens create|list|revoke`` against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.main import main
from core.orm import make_engine, make_session_factory, session_scope
from engine.people.accounts import create_user
from engine.people.admin_audit import OPERATOR, AdminEvent
from engine.people.tokens import ApiToken, authenticate_token, hash_token


def test_create_list_revoke(fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLIS_ENV", "test")
    monkeypatch.setenv("POLIS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("POLIS_VAR_DIR", str(tmp_path / "var"))
    engine = make_engine(fresh_db_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            create_user(session, username="sync", full_name="Archive sync", password=None, roles=["clerk"])
        runner = CliRunner()

        def run(*args: str) -> tuple[int, str]:
            result = runner.invoke(main, list(args), catch_exceptions=False)
            return result.exit_code, result.output

        code, out = run("tokens", "create", "--user", "sync", "--name", "archive", "--scope", "read")
        assert code == 0, out
        secret = out.strip().splitlines()[-1]
        assert secret.startswith("polis_")
        with session_scope(factory) as session:
            stored = session.scalars(select(ApiToken)).one()
            assert stored.token_hash == hash_token(secret) and secret not in stored.hint
            assert stored.scopes == ["read"] and stored.expires_at is None
            assert authenticate_token(session, secret).user.username == "sync"
        code, out = run("tokens", "list")
        assert code == 0 and "archive" in out and "active" in out and secret not in out
        code, out = run("tokens", "revoke", str(stored.id))
        assert code == 0 and "revoked" in out
        code, out = run("tokens", "list", "--user", "sync")
        assert "revoked" in out
        with session_scope(factory) as session:  # both in the admin log, as the operator, no secret
            events = session.scalars(select(AdminEvent).order_by(AdminEvent.seq)).all()
            assert [(e.action, e.actor) for e in events[-2:]] == [
                ("token.create", OPERATOR),
                ("token.revoke", OPERATOR),
            ]
            assert secret not in str(events[-2].details)
        code, out = run("tokens", "create", "--user", "nobody", "--name", "x")
        assert code == 1 and "No member of staff" in out
        code, out = run("tokens", "revoke", "not-a-uuid")
        assert code == 1 and "No token" in out
    finally:
        engine.dispose()
