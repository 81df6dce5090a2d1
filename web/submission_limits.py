"""The brakes on anonymous submission: shared rate limits and the proof-of-work check.

Counters (core.ratelimits, through web.ratelimit) and used challenges are written in short
transactions of their own, so a submission refused later — whose own transaction rolls
back — still counts and still uses up its challenge. Both live in PostgreSQL: every worker
and server sees the same.

A portal page whose visitor runs no JavaScript cannot solve the challenge. It may say so
(:data:`NO_SCRIPT`), and is then held to far stricter limits instead (:func:`check_without_script`):
a few such submissions per client address per day and a ceiling for everyone per hour —
enough for a person, useless for a flood. Every anonymous submission is still held until
the emailed link is followed, whichever way it came.
"""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.exceptions import TooManyRequests

from engine.requests.challenge import redeem_solution
from web.context import services
from web.ratelimit import SharedWindow, client_address

HOUR, DAY = 3600, 86400
#: The value a portal form sends (field ``altcha_fallback``) when its visitor runs no JavaScript.
NO_SCRIPT = "no-script"
_TOO_MANY = (
    "Πάρα πολλά αιτήματα· δοκιμάστε ξανά αργότερα. / Too many requests from here or to"
    " this address; try again later."
)


def check_submission_limits(*, email: str | None, phone: str | None) -> None:
    """Count this submission per client address and per destination; 429 past any limit."""
    settings = services().settings
    per_address = SharedWindow("submission-address", settings.submissions_per_address_hour, HOUR)
    per_contact = SharedWindow("submission-contact", settings.submissions_per_contact_day, DAY)
    checks: list[tuple[SharedWindow, str]] = [(per_address, client_address())]
    if email and email.strip():
        checks.append((per_contact, f"email:{email.strip().lower()}"))
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if digits:
        # 691 234 5678, +30 6912345678 and 00306912345678 are one phone to a spammer.
        checks.append((per_contact, f"phone:{digits.removeprefix('0030').removeprefix('30')[-10:]}"))
    _hit_all(checks)


def check_without_script() -> None:
    """Count a portal submission made without the proof of work; 429 past the stricter limits."""
    settings = services().settings
    _hit_all(
        [
            (
                SharedWindow(
                    "submission-no-script", settings.submissions_without_script_per_address_day, DAY
                ),
                client_address(),
            ),
            (
                SharedWindow("submission-no-script-all", settings.submissions_without_script_per_hour, HOUR),
                "*",
            ),
        ]
    )


def _hit_all(checks: Iterable[tuple[SharedWindow, str]]) -> None:
    """Count every check (each is an event even if another is over); 429 if any is over."""
    over = None
    for window, key in checks:
        if not window.hit(key) and over is None:
            over = window
    if over is not None:
        raise TooManyRequests(description=_TOO_MANY, retry_after=over.retry_after())


def redeem_challenge(payload: str | None, submission_key: str | None = None) -> None:
    """Accept a proof-of-work solution for one submission (ChallengeFailed otherwise)."""
    polis = services()
    with polis.session_factory() as side:
        redeem_solution(side, payload, polis.settings.secret(), submission_key=submission_key)
        side.commit()
