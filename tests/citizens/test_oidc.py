"""OIDC sign-in against a real provider on 127.0.0.1 (authorization code + PKCE, signed ID token)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.people.applicants.models import Applicant
from tests.citizens.oidc_provider import Provider, RunningProvider


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    with RunningProvider() as provider:
        yield provider


@pytest.fixture
def test_settings(test_settings: Settings, idp: Provider) -> Settings:
    return test_settings.model_copy(
        update={
            "oidc_discovery_url": idp.discovery_url,
            "oidc_client_id": idp.client_id,
            "oidc_client_secret": SecretStr(idp.client_secret),
        }
    )


@pytest.fixture
def person(idp: Provider) -> dict[str, Any]:
    subject = uuid.uuid4().hex
    idp.user = {
        "sub": subject,
        "email": f"{subject[:10]}@example.gr",
        "email_verified": True,
        "name": "Γιώργος Παπαδάκης",
        "locale": "el-GR",
    }
    idp.wrong_key = False
    idp.userinfo_only = ()
    return idp.user


def start(client: Any, idp: Provider) -> str:
    """Begin the sign-in; the provider's redirect back (path and query on Polis)."""
    answer = client.get("/citizen/oidc/login?next=/track/abc")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(f"{idp.url}/authorize?")
    asked = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["redirect_uri"] == "http://polis.test/citizen/oidc/callback"
    assert asked["scope"] == "openid email profile" and asked["nonce"] and asked["state"]
    back = requests.get(location, allow_redirects=False, timeout=5)
    assert back.status_code == 302, back.text
    parsed = urlparse(back.headers["Location"])
    return f"{parsed.path}?{parsed.query}"


def test_sign_in_creates_the_applicant(
    client: Any, idp: Provider, person: dict[str, Any], db_session: Session
) -> None:
    callback = start(client, idp)
    answer = client.get(callback)
    assert answer.status_code == 302 and answer.headers["Location"] == "/track/abc"
    me = client.get("/api/v1/citizen/me").get_json()
    assert (me["email"], me["name"], me["email_verified"]) == (person["email"], person["name"], True)
    assert me["identity_provider_linked"] is True
    row = db_session.scalars(select(Applicant).where(Applicant.oidc_subject == person["sub"])).one()
    assert row.oidc_issuer == idp.url

    # The same code cannot be used twice (the pending sign-in is gone from the session).
    assert client.get(callback).status_code == 422
    # A second sign-in finds the same applicant.
    client.post("/api/v1/citizen/logout", json={})
    assert client.get(start(client, idp)).status_code == 302
    assert client.get("/api/v1/citizen/me").get_json()["id"] == str(row.id)


def test_forged_state_is_refused(client: Any, idp: Provider, person: dict[str, Any]) -> None:
    callback = start(client, idp)
    forged = callback.replace("state=", "state=x")
    answer = client.get(forged)
    assert answer.status_code == 422
    assert client.get("/api/v1/citizen/me").status_code == 401


def test_callback_without_a_started_sign_in_is_refused(
    client: Any, idp: Provider, person: dict[str, Any]
) -> None:
    assert client.get("/citizen/oidc/callback?code=abc&state=def").status_code == 422


def test_token_signed_with_an_unpublished_key_is_refused(
    client: Any, idp: Provider, person: dict[str, Any], db_session: Session
) -> None:
    idp.wrong_key = True
    answer = client.get(start(client, idp))
    assert answer.status_code == 403 and "did not check out" in answer.get_data(as_text=True)
    assert client.get("/api/v1/citizen/me").status_code == 401
    assert db_session.scalars(select(Applicant).where(Applicant.oidc_subject == person["sub"])).all() == []


def test_provider_refusal_is_explained(client: Any, idp: Provider, person: dict[str, Any]) -> None:
    start(client, idp)
    with client.session_transaction() as browser:
        state = browser["oidc_pending"]["state"]
    answer = client.get(f"/citizen/oidc/callback?error=access_denied&state={state}")
    assert answer.status_code == 403 and "access_denied" in answer.get_data(as_text=True)


def test_not_configured(app: Any) -> None:
    app.extensions["polis"].settings = app.extensions["polis"].settings.model_copy(
        update={"oidc_discovery_url": None}
    )
    answer = app.test_client().get("/citizen/oidc/login")
    assert answer.status_code == 503


def test_email_from_the_userinfo_endpoint(client: Any, idp: Provider, person: dict[str, Any]) -> None:
    """Providers that keep the ID token small: the email comes from userinfo (same subject)."""
    idp.userinfo_only = ("email", "email_verified", "name")
    assert client.get(start(client, idp)).status_code == 302
    me = client.get("/api/v1/citizen/me").get_json()
    assert (me["email"], me["name"]) == (person["email"], person["name"])
