"""An official's qualified signature through a remote signing service (CSC API v1).

The service holds the official's key on its QSCD; Polis prepares the documents, sends their
hashes and gets the signature values back. One authorisation covers a whole batch::

    service = CscService(url, credential_id, oauth_token=...)
    signed = sign_remotely(signing, service, [(pdf, stamp), ...], pin="...", otp="...")

``sign_remotely`` prepares every document (:meth:`TwoStepSigning.begin_many`), asks
``credentials/authorize`` once with ``numSignatures = N`` and the N hashes (the SAD is bound
to exactly these hashes), calls ``signatures/signHash`` once with the N hashes, checks every
returned value against the certificate and its document, and finishes each document as its
own PAdES signature. The PIN/OTP is passed through to the service and never stored.

When the TSA or OCSP responder fails after the service signed, :class:`RemoteSigningIncomplete`
carries the pending records and signature values: finishing them later
(:meth:`TwoStepSigning.finish_many`) needs no new authorisation.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from asn1crypto import algos, x509

from core.errors import PolisError, ServiceUnavailable
from signing.errors import SignatureMismatch, SignerUnavailable
from signing.sealer import run_coroutine
from signing.stamp import Stamp
from signing.two_step import PendingSignature, ReservedField, TwoStepSigning


class CscRefused(SignatureMismatch):
    """The service refused the authorisation or the signing (wrong PIN/OTP, locked credential)."""

    code = "csc_refused"


@dataclass(frozen=True)
class CscCredential:
    """What ``credentials/info`` says about the official's credential."""

    credential_id: str
    signing_cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    multisign: int
    key_algorithms: tuple[str, ...]


class RemoteSigningIncomplete(ServiceUnavailable):
    """The service signed, but finishing the documents failed (TSA/OCSP down); retry later.

    ``signed`` holds each pending record with its signature value, JSON-safe through
    :meth:`to_dicts`, to finish later with ``TwoStepSigning.finish_many`` — no new PIN/OTP.
    """

    code = "remote_signing_incomplete"

    def __init__(self, message: str, signed: list[tuple[PendingSignature, bytes]]) -> None:
        super().__init__(message)
        self.signed = signed

    def to_dicts(self) -> list[dict[str, Any]]:
        """Pending records with their signature values, to store for the retry."""
        return [
            {"pending": p.to_dict(), "signature": base64.b64encode(s).decode("ascii")} for p, s in self.signed
        ]


class CscService:
    """One credential on a CSC v1 remote signing service."""

    def __init__(
        self,
        service_url: str,
        credential_id: str,
        *,
        oauth_token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.service_url = service_url.rstrip("/")
        self.credential_id = credential_id
        self._headers = {"Authorization": f"Bearer {oauth_token}"} if oauth_token else {}
        self._timeout = timeout
        self._credential: CscCredential | None = None

    def credential(self) -> CscCredential:
        """The credential's certificate, chain and batch limit (asked once, then kept)."""
        if self._credential is None:
            self._credential = run_coroutine(self._fetch_credential())
        return self._credential

    async def _call(self, http: aiohttp.ClientSession, method: str, body: dict[str, Any]) -> Any:
        url = f"{self.service_url}/csc/v1/{method}"
        try:
            async with http.post(url, json=body, headers=self._headers) as response:
                if response.status in (400, 401, 403):
                    text = (await response.text())[:200]
                    raise CscRefused(
                        f"the remote signing service refused {method} ({response.status} {text}); "
                        "check the PIN/OTP and that the credential is enabled, then sign again."
                    )
                if response.status >= 300:
                    raise SignerUnavailable(
                        f"the remote signing service answered {response.status} to {method}; "
                        "nothing was signed, try again later."
                    )
                return await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            raise SignerUnavailable(
                f"the remote signing service at {self.service_url} did not answer {method} "
                f"({type(exc).__name__}: {exc}); nothing was signed, try again later."
            ) from exc

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))

    async def _fetch_credential(self) -> CscCredential:
        async with self._session() as http:
            data = await self._call(
                http, "credentials/info", {"credentialID": self.credential_id, "certificates": "chain"}
            )
        try:
            certs = [x509.Certificate.load(base64.b64decode(c)) for c in data["cert"]["certificates"]]
            key = data.get("key", {})
            if key.get("status", "enabled") != "enabled":
                raise CscRefused(
                    f"the credential {self.credential_id} is {key.get('status')} at the service; "
                    "ask the provider to enable it."
                )
            return CscCredential(
                credential_id=self.credential_id,
                signing_cert=certs[0],
                chain=tuple(certs[1:]),
                multisign=int(data.get("multisign", 1)),
                key_algorithms=tuple(str(a) for a in key.get("algo", ())),
            )
        except (KeyError, IndexError, TypeError, ValueError, binascii.Error) as exc:
            raise SignerUnavailable(
                f"the remote signing service did not describe credential {self.credential_id} "
                f"usably ({type(exc).__name__}); check the credential id."
            ) from exc

    def sign_hashes(self, hashes: Sequence[bytes], *, pin: str | None, otp: str | None) -> list[bytes]:
        """One authorisation (SAD for exactly these hashes), one signHash; values in order."""
        credential = self.credential()
        if len(hashes) > credential.multisign:
            raise CscRefused(
                f"the service signs at most {credential.multisign} documents per authorisation; "
                f"select at most {credential.multisign} documents."
            )
        return run_coroutine(self._sign_hashes(credential, list(hashes), pin, otp))

    async def _sign_hashes(
        self, credential: CscCredential, hashes: list[bytes], pin: str | None, otp: str | None
    ) -> list[bytes]:
        encoded = [base64.b64encode(h).decode("ascii") for h in hashes]
        cert = credential.signing_cert
        sign_algo = "ecdsa" if cert.public_key.algorithm == "ec" else "rsassa_pkcs1v15"
        authorize: dict[str, Any] = {
            "credentialID": self.credential_id,
            "numSignatures": len(hashes),
            "hash": encoded,
        }
        if pin is not None:
            authorize["PIN"] = pin
        if otp is not None:
            authorize["OTP"] = otp
        async with self._session() as http:
            sad = (await self._call(http, "credentials/authorize", authorize)).get("SAD")
            if not isinstance(sad, str):
                raise CscRefused("the remote signing service gave no authorisation (SAD); sign again.")
            answer = await self._call(
                http,
                "signatures/signHash",
                {
                    "credentialID": self.credential_id,
                    "SAD": sad,
                    "hash": encoded,
                    "hashAlgo": algos.DigestAlgorithmId("sha256").dotted,
                    "signAlgo": algos.SignedDigestAlgorithmId(
                        "sha256_ecdsa" if sign_algo == "ecdsa" else "rsassa_pkcs1v15"
                    ).dotted,
                },
            )
        try:
            values = [base64.b64decode(v, validate=True) for v in answer["signatures"]]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise SignatureMismatch(
                "the remote signing service answered without usable signature values; nothing "
                "was signed, sign again."
            ) from exc
        if len(values) != len(hashes):
            raise SignatureMismatch(
                f"the remote signing service returned {len(values)} signatures for "
                f"{len(hashes)} documents; nothing was signed, sign again."
            )
        return values


def sign_remotely(
    signing: TwoStepSigning,
    service: CscService,
    documents: Sequence[tuple[bytes, Stamp | None]],
    *,
    pin: str | None = None,
    otp: str | None = None,
    reserve: ReservedField | None = None,
    certify: bool = False,
) -> list[bytes]:
    """Sign every document with one authorisation; each becomes its own PAdES signature.

    All or nothing: a refused or mismatching answer raises before anything is finished;
    a TSA/OCSP failure after signing raises :class:`RemoteSigningIncomplete`.
    """
    if not documents:
        return []
    credential = service.credential()
    pending = signing.begin_many(
        documents, credential.signing_cert, credential.chain, reserve=reserve, certify=certify
    )
    values = service.sign_hashes([p.digest_to_sign for p in pending], pin=pin, otp=otp)
    signed = list(zip(pending, values, strict=True))
    try:
        return signing.finish_many(signed)
    except SignatureMismatch:
        raise
    except ServiceUnavailable as exc:
        raise RemoteSigningIncomplete(
            f"{exc.message} The documents are signed but not finished; finish them later "
            "without signing again.",
            signed,
        ) from exc
    except PolisError:
        raise
