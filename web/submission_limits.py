"""The brakes on anonymous submission: shared rate limits and the proof-of-work check.

Counters and used challenges are written in a short transaction of their own (a session from
the app's factory, committed at once), so a submission refused later — whose own transaction
rolls back — still counts and still uses up its challenge. Both live in PostgreSQL
(engine.rate_counters, engine.requests.challenge): every worker and server sees the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.exceptions import TooManyRequests

from engine.rate_counters import FixedWindow
from engine.requests.challenge import redeem_solution
from web.context import services
from web.ratelimit import client_address

HOUR, DAY = 3600, 86400


def check_submission_limits(*, email: str | None, phone: str | None) -> None:
    """Count this submission per client address and per destination; 429 past any limit."""
    settings = services().settings
    per_address = FixedWindow("submission-address", settings.submissions_per_address_hour, HOUR)
    per_contact = FixedWindow("submission-contact", settings.submissions_per_contact_day, DAY)
    checks: list[tuple[FixedWindow, str]] = [(per_address, client_address())]
    if email and email.strip():
        checks.append((per_contact, f"email:{email.strip().lower()}"))
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if digits:
        # 691 234 5678, +30 6912345678 and 00306912345678 are one phone to a spammer.
        checks.append((per_contact, f"phone:{digits.removeprefix('0030').removeprefix('30')[-10:]}"))
    over = _hit_all(checks)
    if over is not None:
        raise TooManyRequests(
            description="Πάρα πολλά αιτήματα· δοκιμάστε ξανά αργότερα. / Too many requests from here or to"
            " this address; try again later.",
            retry_after=over.retry_after(),
        )


def _hit_all(checks: Iterable[tuple[FixedWindow, str]]) -> FixedWindow | None:
    """Count every check (each is an event even if another is over) in one short transaction."""
    polis = services()
    over = None
    with polis.session_factory() as side:
        for window, key in checks:
            if not window.hit(side, key, secret=polis.settings.secret()) and over is None:
                over = window
        side.commit()
    return over


def redeem_challenge(payload: str | None) -> None:
    """Accept a proof-of-work solution once (ChallengeFailed otherwise)."""
    polis = services()
    with polis.session_factory() as side:
        redeem_solution(side, payload, polis.settings.secret())
        side.commit()
