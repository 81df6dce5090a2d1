"""Signers whose key lives elsewhere: a CSC remote signing service, or any hash-signing API.

Both implement :class:`signing.signers.Signer`.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from pyhanko.sign import signers as pyhanko_signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import csc_signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.errors import SignerUnavailable
from signing.signers import PyHankoSigner, ReadySigner, pyca_hash


class _PinAuthorizationManager(csc_signer.CSCAuthorizationManager):
    """Asks the CSC service for a SAD bound to the hashes about to be signed."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        session_info: csc_signer.CSCServiceSessionInfo,
        credential_info: csc_signer.CSCCredentialInfo,
        pin: str | None,
        timeout: float,
    ) -> None:
        super().__init__(session_info, credential_info)
        self._session = session
        self._pin = pin
        self._timeout = timeout

    async def authorize_signature(self, hash_b64s: list[str]) -> csc_signer.CSCAuthorizationInfo:
        request = self.format_csc_auth_request(pin=self._pin, hash_b64s=hash_b64s)
        url = self.csc_session_info.endpoint_url("credentials/authorize")  # type: ignore[no-untyped-call]
        try:
            async with self._session.post(
                url,
                headers=self.auth_headers,
                json=request,
                raise_for_status=True,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                data = await response.json()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise SigningError(f"CSC authorisation failed: {exc}") from exc
        return self.parse_csc_auth_response(data)


class CscSigner:
    """A credential on a remote signing service speaking the CSC API (v1)."""

    def __init__(
        self,
        *,
        service_url: str,
        credential_id: str,
        oauth_token: str | None = None,
        pin: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._info = csc_signer.CSCServiceSessionInfo(
            service_url=service_url.rstrip("/"),
            credential_id=credential_id,
            oauth_token=oauth_token,
        )
        self._pin = pin
        self._timeout = timeout
        self._credential: csc_signer.CSCCredentialInfo | None = None

    def _credential_info(self) -> csc_signer.CSCCredentialInfo:
        if self._credential is None:
            asyncio.run(self._fetch_credential())
        assert self._credential is not None
        return self._credential

    async def _fetch_credential(self) -> None:
        async with aiohttp.ClientSession() as session:
            try:
                self._credential = await csc_signer.fetch_certs_in_csc_credential(
                    session, self._info, timeout=int(self._timeout)
                )
            except SigningError as exc:
                raise SignerUnavailable(
                    f"the CSC service at {self._info.service_url} did not describe credential "
                    f"{self._info.credential_id!r}: {exc.__cause__ or exc}. Check the URL, the "
                    "credential id and the token."
                ) from exc

    @property
    def signing_cert(self) -> x509.Certificate:
        """The credential's certificate (fetched once from the service)."""
        return self._credential_info().signing_cert

    @property
    def chain(self) -> Sequence[x509.Certificate]:
        """The CA certificates the service returned with the credential."""
        info = self._credential_info()
        return [c for c in info.chain if c.dump() != info.signing_cert.dump()]

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[PyHankoSigner]:
        """A CSC signer on an HTTP session bound to this batch's event loop."""
        if self._credential is None:
            await self._fetch_credential()
        assert self._credential is not None
        async with aiohttp.ClientSession() as session:
            manager = _PinAuthorizationManager(
                session, self._info, self._credential, self._pin, self._timeout
            )
            yield csc_signer.CSCSigner(session, manager, sign_timeout=int(self._timeout))

    def close(self) -> None:
        """Nothing held between batches."""


DigestCallback = Callable[[bytes, str], "bytes | Awaitable[bytes]"]


class _CallbackSigner(pyhanko_signers.Signer):
    def __init__(
        self,
        callback: DigestCallback,
        signing_cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
    ) -> None:
        self._callback = callback
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=SimpleCertificateStore.from_certs([signing_cert, *chain]),  # type: ignore[no-untyped-call]
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            public_key: asn1_keys.PublicKeyInfo = self.signing_cert.public_key  # type: ignore[union-attr]
            return bytes(max(256, public_key.byte_size * 2))
        digest = hashlib.new(digest_algorithm, data).digest()
        result = self._callback(digest, digest_algorithm)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, bytes) or not result:
            raise SigningError("the external signer returned no signature bytes")
        return result


class ExternalDigestSigner(ReadySigner):
    """Hash out, signature in: ``sign_digest(digest, "sha256")`` returns the raw signature.

    The callback receives the SHA-256 of the CMS signed attributes and must return a
    PKCS#1 v1.5 (RSA) or DER ECDSA signature over that pre-computed digest, as a smart
    card or a provider's hash-signing API does.
    """

    def __init__(
        self,
        *,
        signing_cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
        sign_digest: DigestCallback,
    ) -> None:
        self._cert = signing_cert
        self._chain = list(chain)
        self._signer = _CallbackSigner(sign_digest, signing_cert, self._chain)


def sign_digest_with_key(key: Any) -> DigestCallback:
    """A callback for :class:`ExternalDigestSigner` signing with a local pyca key (tests, demos)."""

    def sign(digest: bytes, digest_algorithm: str) -> bytes:
        algo = Prehashed(pyca_hash(digest_algorithm))
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(digest, padding.PKCS1v15(), algo)
        signature: bytes = key.sign(digest, ec.ECDSA(algo))
        return signature

    return sign
