"""The signers Polis can seal with, behind one interface chosen by settings (local keys here;
remote ones in ``signing.remote_signers``).

A :class:`Signer` hands pyHanko a ``pyhanko.sign.Signer`` for the duration of one batch
(one event loop). Keys, certificates and token sessions are loaded once, at first use,
and reused by every later batch: pyHanko's ``SimpleSigner`` re-parses the private key for
each signature, which is most of the cost of a B-B seal.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from asn1crypto import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign import signers as pyhanko_signers
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko.sign.general import SigningError, as_signing_certificate_v2, load_cert_from_pemder
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


class _PreparsedAttributeProvider(CMSAttributeProvider):
    """Serves one attribute value, parsed back from its DER so it is never re-encoded."""

    def __init__(self, attribute_type: str, value: Any) -> None:
        self.attribute_type = attribute_type
        self._value = type(value).load(value.dump())

    async def build_attr_value(self, dry_run: bool = False) -> Any:
        return self._value


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
        self._signing_certificate_attribute = _PreparsedAttributeProvider(
            "signing_certificate_v2", as_signing_certificate_v2(signing_cert)
        )

    def _signed_attr_providers(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        # pyHanko rebuilds the signing-certificate-v2 attribute for every signature, and
        # asn1crypto re-encodes its freshly built parts hundreds of times while sorting the
        # SET OF attributes (~40 % of a B-B seal). A parsed copy built once is never re-encoded.
        for provider in super()._signed_attr_providers(*args, **kwargs):
            if isinstance(provider, SigningCertificateV2Provider):
                yield self._signing_certificate_attribute
            else:
                yield provider

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algo = mechanism.signature_algo
        hash_algo = hashes.SHA256() if digest_algorithm == "sha256" else pyca_hash(digest_algorithm)
        if isinstance(self._key, rsa.RSAPrivateKey) and algo == "rsassa_pkcs1v15":
            return self._key.sign(data, padding.PKCS1v15(), hash_algo)
        if isinstance(self._key, ec.EllipticCurvePrivateKey) and algo == "ecdsa":
            return self._key.sign(data, ec.ECDSA(hash_algo))
        raise SigningError(f"signature mechanism {algo} is not supported for this key")


def pyca_hash(name: str) -> hashes.HashAlgorithm:
    """The pyca/cryptography hash object for a digest name such as ``sha256``."""
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    algo: hashes.HashAlgorithm = get_pyca_cryptography_hash(name)
    return algo


class ReadySigner:
    """A signer that holds one ready pyHanko signer for its whole life (no session to open).

    Subclasses set ``_cert``, ``_chain`` and ``_signer`` in their constructor.
    """

    _cert: x509.Certificate
    _chain: list[x509.Certificate]
    _signer: PyHankoSigner

    @property
    def signing_cert(self) -> x509.Certificate:
        """The signer's certificate."""
        return self._cert

    @property
    def chain(self) -> Sequence[x509.Certificate]:
        """Its CA certificates."""
        return self._chain

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[PyHankoSigner]:
        """The same signer for every batch."""
        yield self._signer

    def close(self) -> None:
        """Nothing to release."""


class Pkcs12Signer(ReadySigner):
    """A key and certificate chain from a PKCS#12 (.p12/.pfx) file, kept in memory."""

    def __init__(self, path: Path, passphrase: bytes | None) -> None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SignerConfigurationError(
                f"cannot read the PKCS#12 file {path}: {exc.strerror}. Check POLIS_SIGNING_PKCS12_PATH."
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
        self._chain = [x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra]
        self._signer = _InMemoryKeySigner(key, self._cert, self._chain)


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
        criteria = TokenCriteria(label=token_label)
        try:
            try:
                self._session = pyhanko_pkcs11.open_pkcs11_session(
                    str(module), token_criteria=criteria, user_pin=pin
                )
            except p11_errors.UserAlreadyLoggedIn:
                # PKCS#11 logs in per application: another signer of this process already
                # did, and a new session shares that login.
                self._session = pyhanko_pkcs11.open_pkcs11_session(
                    str(module), token_criteria=criteria, user_pin=None
                )
        except p11_errors.PinIncorrect as exc:
            raise SignerConfigurationError(
                f"the PIN for token {token_label!r} was refused. Fix POLIS_SIGNING_PKCS11_PIN "
                "(and mind the token's retry counter)."
            ) from exc
        except p11_errors.PinLocked as exc:
            raise SignerConfigurationError(
                f"the token {token_label!r} is locked after too many wrong PINs; unblock it with the SO PIN."
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
