"""RFC 3161 timestamps of arbitrary data (not PDFs): get one from the TSA, check one later.

The audit anchors (engine/audit_anchors.py) are timestamped here: the TSA signs the SHA-256 of
the anchored heads together with its own clock, so anyone holding the token and the TSA's root
certificate can check, without trusting our database, that those exact heads existed then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from signing.errors import TimestampUnavailable
from signing.sealer import StrictTimeStamper


@dataclass(frozen=True)
class TimestampCheck:
    """What a timestamp token proves: the digest it covers, the time, and whether we trust it."""

    intact: bool  # the token's signature is valid and it covers exactly this digest
    trusted: bool  # the TSA's certificate chains to one of our trust roots
    at: datetime | None

    @property
    def valid(self) -> bool:
        """Intact and from a trusted TSA."""
        return self.intact and self.trusted


def timestamp_digest(tsa_url: str, digest: bytes, *, timeout: float = 30.0) -> bytes:
    """The DER timestamp token (CMS ContentInfo) the TSA gives for a SHA-256 ``digest``."""

    async def request() -> cms.ContentInfo:
        async with aiohttp.ClientSession() as http:
            stamper = StrictTimeStamper(tsa_url, timeout=int(timeout), session=http)
            return await stamper.async_timestamp(digest, "sha256")

    try:
        token = asyncio.run(request())
    except (TimestampRequestError, aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise TimestampUnavailable(
            f"the time-stamping authority at {tsa_url} did not answer usefully ({exc}); try again later."
        ) from exc
    return bytes(token.dump())


def token_time(token: bytes) -> datetime:
    """The TSA's time written in a token (not checked: see check_timestamp)."""
    signed = cms.ContentInfo.load(token)["content"]
    info = tsp.TSTInfo.load(signed["encap_content_info"]["content"].parsed.dump())
    moment: datetime = info["gen_time"].native
    return moment


def check_timestamp(
    token: bytes, digest: bytes, trust_roots: Sequence[asn1_x509.Certificate]
) -> TimestampCheck:
    """Check that ``token`` is a TSA's signature over exactly ``digest`` (SHA-256) and whether its
    TSA is trusted; a malformed token is reported as not intact."""
    try:
        signed = cms.ContentInfo.load(token)["content"]
        context = ValidationContext(trust_roots=list(trust_roots), allow_fetching=False)

        async def validate() -> dict[str, Any]:
            result = await validate_tst_signed_data(signed, context, expected_tst_imprint=lambda _alg: digest)
            return dict(result)

        status = asyncio.run(validate())
    except (ValueError, TypeError, KeyError, SignatureValidationError):
        # Not parseable, or it covers other data: proves nothing.
        return TimestampCheck(intact=False, trusted=False, at=None)
    intact = bool(status.get("intact")) and bool(status.get("valid"))
    trusted = (
        intact and status.get("trust_problem_indic") is None and status.get("validation_path") is not None
    )
    return TimestampCheck(intact=intact, trusted=trusted, at=status.get("timestamp"))
