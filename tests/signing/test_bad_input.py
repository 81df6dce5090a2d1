"""Bad documents and bad signers: clear errors or an invalid/indeterminate report, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from core.errors import ConfigurationError, InvalidInput, ServiceUnavailable
from signing.errors import (
    EncryptedPdf,
    RevocationInfoUnavailable,
    SignerCertificateError,
    SignerConfigurationError,
    SignerUnavailable,
    TimestampUnavailable,
    UnreadablePdf,
)
from signing.remote_signers import CscSigner
from signing.sealer import PadesLevel, Sealer
from signing.signers import Pkcs11Signer, Pkcs12Signer, Signer
from signing.verify import MAX_SIGNATURES, Verdict, verify
from tests.signing.conftest import make_pkcs12
from tests.signing.pkitools import (
    ARCH,
    SOFTHSM_MODULE,
    SPARE_TOKEN,
    SoftHsmToken,
    TestPki,
    encrypted_pdf,
    pdf_with_fake_signatures,
    simple_pdf,
)

# --- verify() on bad files -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "verdict", "words"),
    [
        (b"", Verdict.INVALID, "not a PDF"),
        (b"PK\x03\x04 a zip file", Verdict.INVALID, "not a PDF"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, Verdict.INVALID, "damaged"),
    ],
    ids=["empty", "zip", "garbage-after-header"],
)
def test_verify_reports_unreadable_files(data: bytes, verdict: Verdict, words: str) -> None:
    report = verify(data)

    assert report.verdict is verdict
    assert words in report.reason


def test_verify_reports_encrypted_pdf() -> None:
    report = verify(encrypted_pdf())

    assert report.verdict is Verdict.INVALID
    assert "encrypted" in report.reason


def test_verify_reports_truncated_signed_pdf(
    pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    sealed = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_B).seal(pdf)

    report = verify(sealed[: len(sealed) - 3000], [pki.root])

    assert report.verdict in (Verdict.INVALID, Verdict.INDETERMINATE)
    assert report.reason


def test_verify_unsigned_pdf_is_indeterminate(pdf: bytes) -> None:
    report = verify(pdf)

    assert report.verdict is Verdict.INDETERMINATE
    assert report.reason == "the file carries no signature"


def test_verify_garbage_signatures_are_invalid_not_a_crash() -> None:
    report = verify(pdf_with_fake_signatures(3))

    assert report.verdict is Verdict.INVALID
    assert len(report.signatures) == 3
    assert all("malformed" in s.reason for s in report.signatures)


def test_verify_refuses_to_check_a_thousand_signatures() -> None:
    report = verify(pdf_with_fake_signatures(1000))

    assert report.verdict is Verdict.INDETERMINATE
    assert f"1000 signatures; Polis checks at most {MAX_SIGNATURES}" in report.reason


def test_tampered_pdf_is_invalid(pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]) -> None:
    sealed = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url).seal(pdf)
    tampered = sealed.replace(b"Polis test document 1", b"Polis TEST document 1", 1)
    assert tampered != sealed

    report = verify(tampered, [pki.root])

    assert report.verdict is Verdict.INVALID
    assert not report.signatures[0].intact
    assert "changed after it was signed" in report.reason


def test_content_changed_in_a_later_revision_is_invalid(
    pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    sealed = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url).seal(pdf)
    writer = IncrementalPdfFileWriter(BytesIO(sealed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 700 Td (Paid: 0 EUR) Tj ET")
    page[generic.NameObject("/Contents")] = writer.add_object(stream)
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)

    report = verify(out.getvalue(), [pki.root])

    assert report.verdict is Verdict.INVALID
    signature = report.signatures[0]
    assert signature.intact  # the signed revision itself is untouched
    assert not signature.covers_whole_document
    assert signature.changes_after == "the content was changed"


def test_untrusted_root_is_indeterminate(
    pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    sealed = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url).seal(pdf)

    report = verify(sealed, trust_roots=[])

    assert report.verdict is Verdict.INDETERMINATE
    assert "trusted root" in report.reason


# --- sealing bad documents -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"hello", UnreadablePdf),
        (b"%PDF-1.7\n" + b"\x00" * 200, UnreadablePdf),
    ],
    ids=["text", "header-only"],
)
def test_sealing_unreadable_input_is_refused(
    data: bytes, error: type[Exception], signer_factory: Callable[[str], Signer]
) -> None:
    with pytest.raises(error) as caught:
        Sealer(signer_factory("pkcs12"), level=PadesLevel.B_B).seal(data)
    assert isinstance(caught.value, InvalidInput)


def test_sealing_encrypted_pdf_is_refused(signer_factory: Callable[[str], Signer]) -> None:
    with pytest.raises(EncryptedPdf, match="remove the protection"):
        Sealer(signer_factory("pkcs12"), level=PadesLevel.B_B).seal(encrypted_pdf())


def test_one_bad_document_refuses_the_whole_batch_before_signing(
    pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    with pytest.raises(UnreadablePdf):
        Sealer(signer_factory("pkcs12"), level=PadesLevel.B_B).seal_many([pdf, b"nope", pdf])


# --- bad signers and certificates ------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "words"),
    [("no-nr", "nonRepudiation"), ("expired", "valid only from")],
)
def test_unfit_certificates_are_rejected(pki: TestPki, label: str, words: str) -> None:
    with pytest.raises(SignerCertificateError, match=words) as caught:
        Sealer(make_pkcs12(pki, label), level=PadesLevel.B_B)
    assert isinstance(caught.value, ConfigurationError)


def test_revoked_signer_cannot_seal_at_b_lt(pki: TestPki, pdf: bytes) -> None:
    sealer = Sealer(make_pkcs12(pki, "revoked"), level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url)

    with pytest.raises(SignerCertificateError, match="revoked"):
        sealer.seal(pdf)


def test_revoked_signer_is_reported_by_verify(pki: TestPki, pdf: bytes) -> None:
    # B-T checks no revocation while signing, so the file can exist; verify must say so
    sealed = Sealer(make_pkcs12(pki, "revoked"), level=PadesLevel.B_T, tsa_url=pki.pki.tsa_url).seal(pdf)

    report = verify(sealed, [pki.root], allow_fetching=True)

    assert report.verdict is Verdict.INVALID
    assert report.signatures[0].revoked
    assert "revoked" in report.reason


def test_wrong_pkcs12_passphrase(pki: TestPki) -> None:
    with pytest.raises(SignerConfigurationError, match="wrong passphrase"):
        Pkcs12Signer(pki.p12("signer"), b"not-the-passphrase")


def test_missing_pkcs12_file(pki: TestPki) -> None:
    with pytest.raises(SignerConfigurationError, match="cannot read"):
        Pkcs12Signer(pki.directory / "absent.p12", b"x")


def test_wrong_pkcs11_pin(hsm_token: SoftHsmToken) -> None:
    with pytest.raises(SignerConfigurationError, match=r"PIN .* was refused"):
        Pkcs11Signer(module=SOFTHSM_MODULE, token_label=SPARE_TOKEN, pin="0000", key_label="seal")


def test_second_signer_on_a_logged_in_token(hsm_token: SoftHsmToken, signer_factory: Any) -> None:
    first = signer_factory("pkcs11")  # holds a logged-in session on the token

    second = Pkcs11Signer(
        module=SOFTHSM_MODULE, token_label=hsm_token.label, pin=hsm_token.pin, key_label=hsm_token.key_label
    )
    try:
        assert second.signing_cert.dump() == first.signing_cert.dump()
    finally:
        second.close()


def test_unknown_pkcs11_token(hsm_token: SoftHsmToken) -> None:
    with pytest.raises(ServiceUnavailable, match="cannot open the PKCS#11 token"):
        Pkcs11Signer(module=SOFTHSM_MODULE, token_label="absent", pin="1234", key_label="seal")


def test_unknown_csc_credential(csc_url: str) -> None:
    signer = CscSigner(service_url=csc_url, credential_id=f"{ARCH}/nobody")

    with pytest.raises(SignerUnavailable, match="did not describe credential"):
        _ = signer.signing_cert


# --- services down ---------------------------------------------------------------------


def test_level_above_b_b_needs_a_tsa(signer_factory: Callable[[str], Signer]) -> None:
    with pytest.raises(ConfigurationError, match="POLIS_SIGNING_TSA_URL"):
        Sealer(signer_factory("pkcs12"), level=PadesLevel.B_T)


@pytest.mark.parametrize("failure", ["down", "garbage", "closed-port"])
def test_tsa_failure_seals_nothing(
    failure: str, pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    tsa_url = pki.pki.tsa_url
    if failure == "down":
        pki.server.down = {"tsa"}
    elif failure == "garbage":
        pki.server.garbage_tsa = True
    else:
        tsa_url = "http://127.0.0.1:9/tsa"  # discard port: nothing listens
    sealer = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_T, tsa_url=tsa_url, timeout=3)

    with pytest.raises(TimestampUnavailable, match="not sealed") as caught:
        sealer.seal_many([pdf, pdf])
    assert isinstance(caught.value, ServiceUnavailable)


def test_ocsp_and_crl_down_seals_nothing_at_b_lt(
    pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    pki.server.down = {"ocsp", "crls"}
    sealer = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url, timeout=3)

    with pytest.raises(RevocationInfoUnavailable, match="not sealed"):
        sealer.seal(pdf)


def test_level_parsing() -> None:
    assert PadesLevel.parse("b_lt") is PadesLevel.B_LT
    assert PadesLevel.parse(" B-LTA ") is PadesLevel.B_LTA
    with pytest.raises(ConfigurationError, match="use one of B-B, B-T, B-LT, B-LTA"):
        PadesLevel.parse("PAdES-XL")


def test_simple_pdf_helper_is_unsigned() -> None:
    assert verify(simple_pdf()).signatures == ()
