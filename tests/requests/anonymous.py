"""Submitting without signing in, as a browser does: solve the proof-of-work challenge, then
follow the confirmation link that was emailed."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import altcha
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.notifications.models import Notification
from engine.requests.models import PendingSubmission


def solve(challenge: dict[str, Any]) -> str:
    """The base64 payload the ALTCHA widget sends for a solved challenge."""
    parsed = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(parsed)
    assert solution is not None
    return base64.b64encode(
        json.dumps({"challenge": parsed.to_dict(), "solution": solution.to_dict()}).encode()
    ).decode()


def solved_challenge(client: Any) -> str:
    """A fresh challenge from the API, solved."""
    return solve(client.get("/api/v1/requests/challenge").get_json())


def token_in(text: str) -> str:
    """The token of the confirmation link in an email's text."""
    link = next(word for word in text.split() if "/citizen/confirm-request?" in word)
    return unquote(parse_qs(urlparse(link).query)["token"][0])


def confirmation_token(session: Session, email: str) -> str:
    """The token of the confirmation email for ``email`` whose submission still waits (else of
    any confirmed one: following a link twice is allowed)."""
    texts = session.scalars(
        select(Notification.body_text).where(
            Notification.recipient == email, Notification.template_key == "submission_confirmation"
        )
    ).all()
    assert texts, f"no confirmation email to {email}"
    tokens = [token_in(text) for text in texts]
    waiting = set(
        session.scalars(select(PendingSubmission.token_sha256).where(PendingSubmission.response.is_(None)))
    )
    return next((t for t in tokens if hashlib.sha256(t.encode()).hexdigest() in waiting), tokens[0])
