"""A self-hosted proof-of-work challenge (ALTCHA, PoW v2) for anonymous submissions.

The browser's ALTCHA widget (npm ``altcha`` 3.x) fetches a challenge from
``GET /api/v1/requests/challenge``, spends a second or so of CPU finding a counter whose
PBKDF2-derived key starts with the signed prefix, and sends the base64 payload with the
submission. The server checks the HMAC signature (so the challenge is ours and unchanged),
the expiry and the work, then records the challenge as used: each solution is accepted once,
for one submission — the same submission sent again (the same idempotency key: a double
click, a reload, a retry) may carry the same solution, and the engine answers it with what
the first one made.
Creating and checking cost the server one HMAC and one key derivation; solving costs the
client about 256 derivations — cheap for a person, expensive for a flood.
The ``altcha`` PyPI package does the cryptography; this module adds the single use.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

import altcha
from sqlalchemy import DateTime, String, delete, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import utcnow
from core.errors import PermissionDenied
from core.orm import Base

ALGORITHM = "PBKDF2/SHA-256"
#: A solution must be sent within this time of fetching the challenge.
VALID_FOR = timedelta(minutes=20)
#: Longest payload we decode (a real one is well under 1 KB).
MAX_PAYLOAD = 4096


class ChallengeFailed(PermissionDenied):
    """The proof-of-work payload is missing, forged, expired, wrong or used before.

    ``reason`` (missing | invalid | expired | used) lets a page say it in the reader's language.
    """

    code = "challenge_failed"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class UsedChallenge(Base):
    """A challenge whose solution was accepted; kept until it would have expired anyway."""

    __tablename__ = "used_challenges"

    signature_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: SHA-256 of the idempotency key of the submission that used it (None: sent without one).
    submission_key_sha256: Mapped[str | None] = mapped_column(String(64))


def _key(secret: str) -> bytes:
    """The HMAC key of challenges: derived from the installation's secret, used for nothing else."""
    return hmac.new(secret.encode(), b"polis-altcha-challenge", hashlib.sha256).digest()


def issue_challenge(secret: str, *, cost: int, now: datetime | None = None) -> dict[str, Any]:
    """A new signed challenge, as the ALTCHA widget expects it (JSON)."""
    expires = (now or utcnow()) + VALID_FOR
    challenge = altcha.create_challenge(ALGORITHM, cost, expires_at=expires, hmac_secret=_key(secret))
    result: dict[str, Any] = challenge.to_dict()
    return result


def redeem_solution(
    session: Session,
    payload: str | None,
    secret: str,
    *,
    submission_key: str | None = None,
    now: datetime | None = None,
) -> None:
    """Accept a solved challenge for one submission (``submission_key``, its idempotency key),
    or raise ChallengeFailed saying what to do."""
    if not payload:
        raise ChallengeFailed(
            "Submitting without signing in needs the anti-spam check: fetch GET /api/v1/requests/challenge,"
            " solve it (the ALTCHA widget does) and send the result as the 'altcha' field.",
            reason="missing",
        )
    result = altcha.verify_solution(payload, _key(secret)) if len(payload) <= MAX_PAYLOAD else None
    if result is None or not result.verified:
        expired = result is not None and result.expired
        raise ChallengeFailed(
            f"The anti-spam check is {'expired' if expired else 'not valid'}; let the page run it again"
            " and resubmit.",
            reason="expired" if expired else "invalid",
        )
    parsed = altcha.Payload.from_base64(payload)
    signature = hashlib.sha256((parsed.challenge.signature or "").encode()).hexdigest()
    expires_at = parsed.challenge.parameters.expires_at
    moment = now or utcnow()
    until = (
        datetime.fromtimestamp(expires_at, tz=moment.tzinfo)
        if isinstance(expires_at, int)
        else moment + VALID_FOR
    )
    key_digest = hashlib.sha256(submission_key.encode()).hexdigest() if submission_key else None
    claimed = session.execute(
        insert(UsedChallenge)
        .values(signature_sha256=signature, expires_at=until, submission_key_sha256=key_digest)
        .on_conflict_do_nothing(index_elements=["signature_sha256"])
        .returning(UsedChallenge.signature_sha256)
    ).scalar()
    if claimed is None and (
        key_digest is None
        or session.scalar(
            select(UsedChallenge.submission_key_sha256).where(UsedChallenge.signature_sha256 == signature)
        )
        != key_digest
    ):
        raise ChallengeFailed(
            "This anti-spam check was used already; let the page run it again and resubmit.",
            reason="used",
        )


def purge_used_challenges(session: Session, *, now: datetime | None = None) -> int:
    """Forget used challenges that have expired (they would be refused as expired anyway)."""
    cutoff = now or utcnow()
    gone = session.scalars(
        delete(UsedChallenge).where(UsedChallenge.expires_at < cutoff).returning(literal(1))
    ).all()
    return len(gone)
