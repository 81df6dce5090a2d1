"""The signers Polis can seal with, behind one interface chosen by settings.

A :class:`Signer` hands pyHanko a ``pyhanko.sign.Signer`` for the duration of one batch
(one event loop). Keys, certificates and token sessions are loaded once, at first use,
and reused by every later batch: pyHanko's ``SimpleSigner`` re-parses the private key for
each signature, which is most of the cost of a B-B seal.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign import signers as pyhanko_signers
from pyhanko.sign.general import SigningError, load_cert_from_pemder
from pyhanko.sign.signers import csc_signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.errors import SignerConfigurationError, SignerUnavailable

PyHankoSigner = pyhanko_signers.Signer


class Signer(Protocol):
    """A source of signatures: a key plus its certificate chain."""

    @property
    def signing_cert(self) -> x509.Certificate:
        """The certificate whose key makes the signatures."""
        ...

    @property
    def chain(self) -> Sequence[x509.Certificate]:
        """The issuing CA certificates embedded next to the signing certificate."""
        ...

    def batch(self) -> AbstractAsyncContextManager[PyHankoSigner]:
        """A pyHanko signer valid inside one event loop (one batch of documents)."""
        ...

    def close(self) -> None:
        """Release tokens and sessions."""
        ...


def _load_certs(paths: Sequence[Path]) -> list[x509.Certificate]:
    certs = []
    for path in paths:
        try:
            certs.append(load_cert_from_pemder(str(path)))  # type: ignore[no-untyped-call]
        except (OSError, ValueError) as exc:
            raise SignerConfigurationError(
                f"cannot read the certificate file {path}: {exc}. "
                "Point the setting to a PEM or DER X.509 certificate."
            ) from exc
    return certs


class _InMemoryKeySigner(pyhanko_signers.Signer):
    """A pyHanko signer holding a parsed private key, so each signature costs only the maths."""

    def __init__(
        self,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        signing_cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
    ) -> None:
        self._key = key
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=SimpleCertificateStore.from_certs([signing_cert, *chain]),  # type: ignore[no-untyped-call]
        )

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algo = mechanism.signature_algo
        hash_algo = (
            hashes.SHA256() if digest_algorithm == "sha256" else _pyca_hash(digest_algorithm)
        )
        if isinstance(self._key, rsa.RSAPrivateKey) and algo == "rsassa_pkcs1v15":
            return self._key.sign(data, padding.PKCS1v15(), hash_algo)
        if isinstance(self._key, ec.EllipticCurvePrivateKey) and algo == "ecdsa":
            return self._key.sign(data, ec.ECDSA(hash_algo))
        raise SigningError(f"signature mechanism {algo} is not supported for this key")


def _pyca_hash(name: str) -> hashes.HashAlgorithm:
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    algo: hashes.HashAlgorithm = get_pyca_cryptography_hash(name)
    return algo


class Pkcs12Signer:
    """A key and certificate chain from a PKCS#12 (.p12/.pfx) file, kept in memory."""

    def __init__(self, path: Path, passphrase: bytes | None) -> None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SignerConfigurationError(
                f"cannot read the PKCS#12 file {path}: {exc.strerror}. "
                "Check POLIS_SIGNING_PKCS12_PATH."
            ) from exc
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, passphrase)
        except ValueError as exc:
            raise SignerConfigurationError(
                f"cannot open the PKCS#12 file {path}: wrong passphrase or not a PKCS#12 file. "
                "Check POLIS_SIGNING_PKCS12_PASSPHRASE."
            ) from exc
        if key is None or cert is None:
            raise SignerConfigurationError(
                f"the PKCS#12 file {path} holds no private key with its certificate; "
                "export the seal's key together with its certificate."
            )
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise SignerConfigurationError(
                f"the key in {path} is neither RSA nor EC; Polis seals with RSA or ECDSA keys."
            )
        self._cert = x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        self._chain = [
            x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra
        ]
        self._signer = _InMemoryKeySigner(key, self._cert, self._chain)

    @property
    def signing_cert(self) -> x509.Certificate:
        """The seal certificate."""
        return self._cert

    @property
    def chain(self) -> Sequence[x509.Certificate]:
        """The CA certificates found in the file."""
        return self._chain

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[PyHankoSigner]:
        """The same in-memory signer for every batch."""
        yield self._signer

    def close(self) -> None:
        """Nothing to release."""


class Pkcs11Signer:
    """A key on a PKCS#11 token or HSM; one logged-in session kept open and reused."""

    def __init__(
        self,
        *,
        module: Path,
        token_label: str,
        pin: str,
        key_label: str,
        cert_label: str | None = None,
        cert_file: Path | None = None,
        chain_files: Sequence[Path] = (),
    ) -> None:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign import pkcs11 as pyhanko_pkcs11

        try:
            import pkcs11.exceptions as p11_errors
        except ImportError as exc:  # pragma: no cover - dependency declared in pyproject
            raise SignerConfigurationError("python-pkcs11 is not installed") from exc
        if not Path(module).exists():
            raise SignerConfigurationError(
                f"the PKCS#11 module {module} does not exist; install the token's driver "
                "or fix POLIS_SIGNING_PKCS11_MODULE."
            )
        try:
            self._session = pyhanko_pkcs11.open_pkcs11_session(
                str(module), token_criteria=TokenCriteria(label=token_label), user_pin=pin
            )
        except p11_errors.PinIncorrect as exc:
            raise SignerConfigurationError(
                f"the PIN for token {token_label!r} was refused. Fix POLIS_SIGNING_PKCS11_PIN "
                "(and mind the token's retry counter)."
            ) from exc
        except p11_errors.PinLocked as exc:
            raise SignerConfigurationError(
                f"the token {token_label!r} is locked after too many wrong PINs; "
                "unblock it with the SO PIN."
            ) from exc
        except (SigningError, p11_errors.PKCS11Error) as exc:
            raise SignerUnavailable(
                f"cannot open the PKCS#11 token {token_label!r}: {exc}. "
                "Check that the token is present and the label is right."
            ) from exc
        chain = _load_certs(chain_files)
        signing_cert = _load_certs([cert_file])[0] if cert_file else None
        try:
            self._signer = pyhanko_pkcs11.PKCS11Signer(
                self._session,
                key_label=key_label,
                cert_label=cert_label if signing_cert is None else None,
                signing_cert=signing_cert,
                ca_chain=chain,
            )
            cert = self._signer.signing_cert  # fetches the certificate from the token now
        except (SigningError, p11_errors.PKCS11Error) as exc:
            self._session.close()
            raise SignerConfigurationError(
                f"no usable key/certificate labelled {key_label!r} on token {token_label!r}: "
                f"{exc}. Check the key and certificate labels."
            ) from exc
        assert cert is not None
        self._cert: x509.Certificate = cert
        self._chain = chain
        # a PKCS#11 session is not safe for concurrent use from several threads
        self._lock = threading.Lock()

    @property
    def signing_cert(self) -> x509.Certificate:
        """The certificate of the token key."""
        return self._cert

    @property
    def chain(self) -> Sequence[x509.Certificate]:
        """The configured CA certificates."""
        return self._chain

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[PyHankoSigner]:
        """The token signer, held exclusively for the batch."""
        with self._lock:
            yield self._signer

    def close(self) -> None:
        """Log out and close the session."""
        self._session.close()


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

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
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


class ExternalDigestSigner:
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

    @property
    def signing_cert(self) -> x509.Certificate:
        """The external key's certificate."""
        return self._cert

    @property
    def chain(self) -> Sequence[x509.Certificate]:
        """Its CA certificates."""
        return self._chain

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[PyHankoSigner]:
        """The callback signer."""
        yield self._signer

    def close(self) -> None:
        """Nothing to release."""


def sign_digest_with_key(key: Any) -> DigestCallback:
    """A callback for :class:`ExternalDigestSigner` signing with a local pyca key (tests, demos)."""

    def sign(digest: bytes, digest_algorithm: str) -> bytes:
        algo = Prehashed(_pyca_hash(digest_algorithm))
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(digest, padding.PKCS1v15(), algo)
        signature: bytes = key.sign(digest, ec.ECDSA(algo))
        return signature

    return sign
