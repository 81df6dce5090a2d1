"""Citizen sign-in through the municipality's OpenID Connect provider (TAXISnet-style).

Authorization-code flow with PKCE (S256), a random ``state`` and ``nonce`` kept in the
session, Authlib's OAuth 2 client for the exchange, and the ID token checked with joserfc
against the provider's published keys: signature, issuer, audience, expiry, nonce. The
verified claims go to ``engine.people.applicants.login_or_create_from_oidc``, which finds, links
or creates the applicant; then the citizen is signed in (``session["applicant_id"]``).

Settings: POLIS_OIDC_DISCOVERY_URL, POLIS_OIDC_CLIENT_ID, POLIS_OIDC_CLIENT_SECRET,
POLIS_OIDC_SCOPES. The provider must accept ``<POLIS_BASE_URL>/citizen/oidc/callback``.
"""

from __future__ import annotations

import hmac
import threading
import time
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint, redirect, request, session, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response as WerkzeugResponse

from core.errors import InvalidInput, PermissionDenied, ServiceUnavailable
from core.settings import Settings
from engine.people.applicants import login_or_create_from_oidc
from web.auth.citizen import start_session
from web.context import db, services
from web.redirects import safe_next

bp = Blueprint("citizen_oidc", __name__, url_prefix="/citizen/oidc")

PENDING_KEY = "oidc_pending"
#: A sign-in must come back from the provider within this many seconds.
PENDING_TTL = 600
DISCOVERY_TTL = 3600.0
TIMEOUT = 10.0
ALGORITHMS = ["RS256", "PS256", "ES256"]
_discovery: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


class IdentityProviderError(PermissionDenied):
    """The identity provider refused the sign-in, or its answer did not check out."""

    code = "oidc_failed"


def oidc_configured() -> bool:
    """Whether sign-in through the municipality's identity provider is set up."""
    settings = services().settings
    return bool(settings.oidc_discovery_url and settings.oidc_client_id)


def _configured(settings: Settings) -> tuple[str, str]:
    if not settings.oidc_discovery_url or not settings.oidc_client_id:
        raise ServiceUnavailable(
            "Sign-in through the identity provider is not set up here: an administrator must set "
            "POLIS_OIDC_DISCOVERY_URL and POLIS_OIDC_CLIENT_ID. Sign in with email and password instead."
        )
    return settings.oidc_discovery_url, settings.oidc_client_id


def _get_json(url: str, what: str) -> dict[str, Any]:
    try:
        answer = requests.get(url, timeout=TIMEOUT)
        answer.raise_for_status()
        body = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise ServiceUnavailable(
            f"The identity provider's {what} could not be read ({type(exc).__name__}); try again later."
        ) from None
    if not isinstance(body, dict):
        raise ServiceUnavailable(
            f"The identity provider's {what} is not a JSON object; tell the administrator."
        )
    return body


def provider_metadata(discovery_url: str) -> dict[str, Any]:
    """The provider's discovery document (cached for an hour)."""
    with _lock:
        cached = _discovery.get(discovery_url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
    metadata = _get_json(discovery_url, "discovery document")
    missing = [
        k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if not metadata.get(k)
    ]
    if missing:
        raise ServiceUnavailable(
            f"The identity provider's discovery document lacks {missing}; tell the administrator."
        )
    with _lock:
        _discovery[discovery_url] = (time.monotonic() + DISCOVERY_TTL, metadata)
    return metadata


def _client(settings: Settings, client_id: str) -> OAuth2Session:
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    return OAuth2Session(
        client_id=client_id,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=settings.oidc_scopes,
        # From the settings, not the Host header: it must equal what the provider registered.
        redirect_uri=settings.public_base_url + url_for("citizen_oidc.callback"),
        code_challenge_method="S256",
        default_timeout=TIMEOUT,
    )


@bp.get("/login")
def login() -> WerkzeugResponse:
    """Send the citizen to the identity provider."""
    settings = services().settings
    discovery_url, client_id = _configured(settings)
    metadata = provider_metadata(discovery_url)
    verifier, state, nonce = generate_token(64), generate_token(32), generate_token(32)
    url, _ = _client(settings, client_id).create_authorization_url(
        metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
    )
    session[PENDING_KEY] = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": safe_next(request.args.get("next"), "/"),
        "at": time.time(),
    }
    return redirect(url, 302)


def verify_id_token(id_token: str, metadata: dict[str, Any], client_id: str, nonce: str) -> dict[str, Any]:
    """The claims of a valid ID token (signature, issuer, audience, expiry, nonce), else an error."""
    keys = KeySet.import_key_set(_get_json(str(metadata["jwks_uri"]), "key set"))  # type: ignore[arg-type]
    try:
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": metadata["issuer"]},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
            leeway=60,
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise IdentityProviderError(
            f"The identity provider's answer did not check out ({type(exc).__name__}); sign in again."
        ) from None
    return dict(token.claims)


@bp.get("/callback")
def callback() -> WerkzeugResponse:
    """Back from the identity provider: check everything, then sign the citizen in."""
    settings = services().settings
    discovery_url, client_id = _configured(settings)
    pending = session.pop(PENDING_KEY, None)
    state = request.args.get("state", "")
    if (
        not isinstance(pending, dict)
        or not hmac.compare_digest(str(pending.get("state", "")), state)
        or time.time() - float(pending.get("at", 0)) > PENDING_TTL
    ):
        raise InvalidInput("This sign-in link has expired or was not started here; start the sign-in again.")
    if request.args.get("error"):
        raise IdentityProviderError(
            f"The identity provider did not sign you in ({request.args.get('error', '')[:60]}); try again."
        )
    code = request.args.get("code")
    if not code:
        raise InvalidInput("The identity provider sent no authorization code; start the sign-in again.")
    metadata = provider_metadata(discovery_url)
    client = _client(settings, client_id)
    try:
        token = client.fetch_token(metadata["token_endpoint"], code=code, code_verifier=pending["verifier"])
    except Exception as exc:  # authlib raises OAuthError, requests raises its own: both mean "refused"
        raise IdentityProviderError(
            f"The identity provider refused the sign-in code ({type(exc).__name__}); start the sign-in again."
        ) from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise IdentityProviderError(
            "The identity provider sent no ID token; ask the administrator to check 'openid'."
        )
    claims = verify_id_token(id_token, metadata, client_id, str(pending["nonce"]))
    if "email" not in claims and metadata.get("userinfo_endpoint"):
        try:
            answer = client.get(metadata["userinfo_endpoint"])
            answer.raise_for_status()
            extra = answer.json()
        except (requests.RequestException, ValueError):
            raise IdentityProviderError(
                "The identity provider did not tell us who you are (userinfo failed); sign in again."
            ) from None
        if isinstance(extra, dict) and extra.get("sub") == claims["sub"]:
            claims = extra | claims
    applicant = login_or_create_from_oidc(db(), str(metadata["issuer"]), claims)
    start_session(applicant)
    return redirect(safe_next(str(pending.get("next") or "/"), "/"), 302)
