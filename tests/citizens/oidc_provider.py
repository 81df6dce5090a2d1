"""A small, real OpenID Connect provider on 127.0.0.1 for tests: discovery, JWKS, authorize, token.

It signs ID tokens with an RSA key (joserfc), checks the PKCE verifier (S256), the client's
secret and the redirect URI, and can be told to misbehave (sign with a key it does not publish).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server


@dataclass
class Provider:
    """The provider's state; tests change ``user`` and ``wrong_key`` between sign-ins."""

    client_id: str = "polis"
    client_secret: str = "provider-client-secret"
    user: dict[str, Any] = field(default_factory=dict)
    wrong_key: bool = False
    #: Claims left out of the ID token and served only by the userinfo endpoint.
    userinfo_only: tuple[str, ...] = ()
    url: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "idp-1"}))
    other_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "idp-1"}))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    access_tokens: set[str] = field(default_factory=set)

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"


def build_app(provider: Provider) -> Flask:
    """The provider's HTTP endpoints."""
    app = Flask("test_oidc_provider")

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(
            issuer=provider.url,
            authorization_endpoint=f"{provider.url}/authorize",
            token_endpoint=f"{provider.url}/token",
            jwks_uri=f"{provider.url}/jwks",
            userinfo_endpoint=f"{provider.url}/userinfo",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
        )

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(KeySet([provider.key]).as_dict(private=False))

    @app.get("/authorize")
    def authorize() -> Any:
        args = request.args.to_dict()
        provider.authorize_requests.append(args)
        if args.get("client_id") != provider.client_id or args.get("response_type") != "code":
            return "bad client or response type", 400
        code = secrets.token_urlsafe(16)
        provider.codes[code] = args
        return redirect(f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}")

    @app.post("/token")
    def token() -> Any:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (provider.client_id, provider.client_secret):
            return jsonify(error="invalid_client"), 401
        asked = provider.codes.pop(request.form.get("code", ""), None)
        if asked is None or request.form.get("redirect_uri") != asked["redirect_uri"]:
            return jsonify(error="invalid_grant"), 400
        verifier = request.form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if asked.get("code_challenge_method") != "S256" or challenge != asked.get("code_challenge"):
            return jsonify(error="invalid_grant", error_description="PKCE check failed"), 400
        now = int(time.time())
        claims = {
            "iss": provider.url,
            "aud": provider.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": asked.get("nonce"),
        } | {k: v for k, v in provider.user.items() if k not in provider.userinfo_only}
        key = provider.other_key if provider.wrong_key else provider.key
        id_token = jwt.encode({"alg": "RS256", "kid": "idp-1"}, claims, key)
        access_token = secrets.token_urlsafe(16)
        provider.access_tokens.add(access_token)
        return jsonify(access_token=access_token, token_type="Bearer", expires_in=300, id_token=id_token)

    @app.get("/userinfo")
    def userinfo() -> Any:
        given = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        if given not in provider.access_tokens:
            return jsonify(error="invalid_token"), 401
        return jsonify(provider.user)

    return app


class RunningProvider:
    """The provider served by werkzeug on a free loopback port, in a thread."""

    def __init__(self) -> None:
        self.provider = Provider()
        self.server = make_server("127.0.0.1", 0, build_app(self.provider), threaded=True)
        self.provider.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self.provider

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
