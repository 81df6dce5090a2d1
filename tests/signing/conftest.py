"""Session-scoped PKI, token and remote-signing fixtures for the signing tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from signing.remote_signers import CscSigner, ExternalDigestSigner, sign_digest_with_key
from signing.signers import Pkcs11Signer, Pkcs12Signer, Signer
from tests.signing.pkitools import (
    ARCH,
    SOFTHSM_MODULE,
    SoftHsmToken,
    TestPki,
    csc_server,
    running_pki,
    simple_pdf,
    softhsm_token,
)


@pytest.fixture(scope="session")
def test_pki() -> Iterator[TestPki]:
    """Root, intermediate, signers, TSA, OCSP and CRLs served on 127.0.0.1."""
    with running_pki() as pki:
        yield pki


@pytest.fixture
def pki(test_pki: TestPki) -> Iterator[TestPki]:
    """The session PKI, with every service switched back on after the test."""
    yield test_pki
    test_pki.server.down = set()
    test_pki.server.garbage_tsa = False


@pytest.fixture(scope="session")
def hsm_token(test_pki: TestPki) -> Iterator[SoftHsmToken]:
    """A SoftHSM2 token with the test signer's key and certificate."""
    with softhsm_token(test_pki) as token:
        yield token


@pytest.fixture(scope="session")
def csc_url(test_pki: TestPki) -> Iterator[str]:
    """certomancer-csc-dummy serving the test PKI's keys."""
    with csc_server(test_pki) as url:
        yield url


@pytest.fixture(scope="session")
def pdf() -> bytes:
    """A two-page unsigned PDF."""
    return simple_pdf(pages=2)


def make_pkcs12(test_pki: TestPki, label: str = "signer") -> Pkcs12Signer:
    """A PKCS#12 signer for a test certificate."""
    return Pkcs12Signer(test_pki.p12(label), b"test-pass")


SIGNER_KINDS = ["pkcs12", "pkcs11", "csc", "external"]


@pytest.fixture(scope="session")
def signer_factory(request: pytest.FixtureRequest, test_pki: TestPki) -> Callable[[str], Signer]:
    """Builds (once per kind) a signer of each kind holding the ``signer`` certificate."""
    cache: dict[str, Signer] = {}

    def build(kind: str) -> Signer:
        if kind in cache:
            return cache[kind]
        signer: Signer
        if kind == "pkcs12":
            signer = make_pkcs12(test_pki)
        elif kind == "pkcs11":
            token: SoftHsmToken = request.getfixturevalue("hsm_token")
            signer = Pkcs11Signer(
                module=SOFTHSM_MODULE,
                token_label=token.label,
                pin=token.pin,
                key_label=token.key_label,
                cert_label=token.key_label,
                chain_files=chain_files(test_pki),
            )
        elif kind == "csc":
            url: str = request.getfixturevalue("csc_url")
            signer = CscSigner(service_url=url, credential_id=f"{ARCH}/signer")
        elif kind == "external":
            key = load_pem_private_key(test_pki.pki.private_key_pem("signer"), None)
            signer = ExternalDigestSigner(
                signing_cert=test_pki.pki.cert("signer"),
                chain=test_pki.pki.chain("signer"),
                sign_digest=sign_digest_with_key(key),
            )
        else:  # pragma: no cover
            raise ValueError(kind)
        cache[kind] = signer
        return signer

    yield build  # type: ignore[misc]
    for signer in cache.values():
        signer.close()


def chain_files(test_pki: TestPki) -> list[Path]:
    """The signer's CA chain as DER files (a token usually holds only the end certificate)."""
    chain_dir = test_pki.directory / "chain"
    chain_dir.mkdir(exist_ok=True)
    paths = []
    for index, cert in enumerate(test_pki.pki.chain("signer")):
        path = chain_dir / f"ca{index}.der"
        path.write_bytes(cert.dump())
        paths.append(path)
    return paths


CATALOG = Path(__file__).resolve().parents[2] / "web" / "translations" / "el" / "LC_MESSAGES"


@pytest.fixture(scope="session", autouse=True)
def greek_catalog() -> None:
    """Compile the Greek catalogue as ``make`` does (the .mo is not kept in git)."""
    po, mo = CATALOG / "messages.po", CATALOG / "messages.mo"
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        with po.open("rb") as source:
            catalog = read_po(source)
        with mo.open("wb") as target:
            write_mo(target, catalog)
