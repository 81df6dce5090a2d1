"""Sealing at every PAdES level with every kind of signer, checked by verify() and openssl."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from signing.sealer import PadesLevel, Sealer, SealRequest
from signing.signers import Signer
from signing.stamp import Stamp
from signing.verify import Verdict, verify
from tests.signing.conftest import SIGNER_KINDS
from tests.signing.pkitools import TestPki, openssl_verify_all

STAMP = Stamp("https://polis.example.gr/verify/Xy7kP2", verification_code="Xy7kP2")


@pytest.mark.parametrize("kind", SIGNER_KINDS)
@pytest.mark.parametrize("level", list(PadesLevel), ids=lambda level: level.value)
def test_seal_validates_at_every_level(
    kind: str,
    level: PadesLevel,
    pki: TestPki,
    pdf: bytes,
    signer_factory: Callable[[str], Signer],
) -> None:
    sealer = Sealer(signer_factory(kind), level=level, tsa_url=pki.pki.tsa_url, trust_roots=[pki.root])

    sealed = sealer.seal(pdf, STAMP)

    assert sealed.startswith(pdf), "a seal is an incremental update of the original bytes"
    report = verify(sealed, [pki.root], allow_fetching=True)
    assert report.verdict is Verdict.VALID, report.reason
    (signature,) = report.signatures
    assert signature.level == level.value
    assert signature.intact and signature.signature_valid and signature.chain_trusted
    assert signature.signer_name == "Δήμος Δοκιμών — σφραγίδα"
    assert (signature.timestamp_time is not None) == (level is not PadesLevel.B_B)
    assert report.document_timestamps == (1 if level is PadesLevel.B_LTA else 0)
    assert openssl_verify_all(sealed, pki.root_pem) == 1 + report.document_timestamps


@pytest.mark.parametrize("level", [PadesLevel.B_LT, PadesLevel.B_LTA], ids=lambda lv: lv.value)
def test_long_term_levels_validate_with_responders_switched_off(
    level: PadesLevel, pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    sealed = Sealer(
        signer_factory("pkcs12"), level=level, tsa_url=pki.pki.tsa_url, trust_roots=[pki.root]
    ).seal(pdf)

    pki.server.outage = True
    report = verify(sealed, [pki.root], allow_fetching=True)

    assert report.verdict is Verdict.VALID, report.reason
    assert report.signatures[0].ltv_embedded


def test_short_term_levels_are_indeterminate_offline(
    pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    sealed = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_T, tsa_url=pki.pki.tsa_url).seal(pdf)

    report = verify(sealed, [pki.root])  # no embedded OCSP/CRL, no fetching

    assert report.verdict is Verdict.INDETERMINATE
    assert "revocation" in report.reason


def test_seal_many_keeps_order_and_validates_each(
    pki: TestPki, signer_factory: Callable[[str], Signer]
) -> None:
    from tests.signing.pkitools import simple_pdf

    documents = [simple_pdf(text=f"Βεβαίωση {n}") for n in range(5)]
    sealer = Sealer(
        signer_factory("pkcs12"),
        level=PadesLevel.B_LT,
        tsa_url=pki.pki.tsa_url,
        trust_roots=[pki.root],
    )

    sealed = sealer.seal_many([SealRequest(documents[0], STAMP), *documents[1:]])

    assert len(sealed) == 5
    for original, result in zip(documents, sealed, strict=True):
        assert result.startswith(original)
        assert verify(result, [pki.root]).verdict is Verdict.VALID


def test_second_seal_on_a_sealed_document(
    pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    sealer = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url)
    twice = sealer.seal(sealer.seal(pdf))

    report = verify(twice, [pki.root])

    assert report.verdict is Verdict.VALID, report.reason
    assert [s.field_name for s in report.signatures] == ["PolisSeal1", "PolisSeal2"]
    assert report.signatures[0].changes_after != "the content was changed"
    assert report.signatures[1].covers_whole_document is False  # its DSS came after
    assert openssl_verify_all(twice, pki.root_pem) == 2


def test_qualified_certificate_is_reported(pki: TestPki, pdf: bytes) -> None:
    from signing.signers import Pkcs12Signer

    qualified = Pkcs12Signer(pki.p12("qualified"), b"test-pass")
    sealed = Sealer(qualified, level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url).seal(pdf)

    signature = verify(sealed, [pki.root]).signatures[0]

    assert signature.qualified.qualified
    assert signature.qualified.qc_types == ("qct_eseal",)


def test_ordinary_certificate_is_not_qualified(
    pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    sealed = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_B).seal(pdf)

    signature = verify(sealed, [pki.root], allow_fetching=True).signatures[0]

    assert not signature.qualified.qualified
