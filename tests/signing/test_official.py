"""An official's qualified signature: remote (CSC dummy) and external signer (desktop app),
both PAdES B-LT that verify offline and with openssl; the refusals leave nothing half-signed."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers

from signing.csc import CscRefused, CscService, RemoteSigningIncomplete, sign_remotely
from signing.errors import SignatureMismatch, SignerCertificateError, TimestampUnavailable
from signing.external import finish_external, to_be_signed
from signing.remote_signers import sign_digest_with_key
from signing.sealer import PadesLevel, run_coroutine
from signing.stamp import SIGNATURE_TEXT, Stamp
from signing.two_step import PendingSignature, TwoStepSigning
from signing.verify import Verdict, verify
from tests.signing.pkitools import ARCH, TestPki, openssl_verify_all, simple_pdf

TITLE = "Προϊσταμένη Διεύθυνσης Διοικητικών Υπηρεσιών"


def official_stamp(name: str = "Μαρία Παπαδοπούλου") -> Stamp:
    """The visible signature box: the official's name and title in Greek."""
    return Stamp(
        "https://polis.example.gr/verify/OFF1",
        "OFF1",
        signer_name=name,
        text=SIGNATURE_TEXT,
        details=(("title", TITLE),),
    )


@pytest.fixture
def signing(pki: TestPki) -> TwoStepSigning:
    """B-LT, qualified signatures only."""
    return TwoStepSigning(
        level=PadesLevel.B_LT,
        tsa_url=pki.pki.tsa_url,
        trust_roots=[pki.root],
        require_qualified="qct_esign",
    )


def sign(pki: TestPki, label: str, digest: bytes) -> bytes:
    """What the official's card does: sign a pre-computed SHA-256."""
    key = load_pem_private_key(pki.pki.private_key_pem(label), None)
    value = sign_digest_with_key(key)(digest, "sha256")
    assert isinstance(value, bytes)
    return value


def assert_qualified_b_lt(signed: bytes, pki: TestPki, name: str = "Μαρία Παπαδοπούλου") -> None:
    """Valid offline from the embedded DSS, B-LT, qualified, and openssl agrees."""
    report = verify(signed, [pki.root], allow_fetching=False)
    assert report.verdict is Verdict.VALID, report.reason
    (signature,) = report.signatures
    assert signature.level == "B-LT"
    assert signature.ltv_embedded
    assert signature.signer_name == name
    assert signature.qualified.qualified
    assert "qct_esign" in signature.qualified.qc_types
    assert openssl_verify_all(signed, pki.root_pem) == 1


def stamp_text_and_fonts(signed: bytes) -> tuple[bool, bool]:
    """Whether the signature's appearance embeds its font, and whether that font is a subset."""
    reader = PdfFileReader(BytesIO(signed))
    embedded = reader.embedded_signatures[0]
    widget = embedded.sig_field
    appearance = widget["/AP"]["/N"]
    fonts = []

    def walk(xobject: Any) -> None:
        resources = xobject.get("/Resources", {})
        fonts.extend(f.get_object() for f in resources.get("/Font", {}).values())
        for inner in resources.get("/XObject", {}).values():
            walk(inner.get_object())

    walk(appearance.get_object())
    descendants = [f["/DescendantFonts"][0].get_object() for f in fonts if "/DescendantFonts" in f]
    embedded_file = any("/FontFile2" in d["/FontDescriptor"] for d in descendants)
    return bool(fonts), embedded_file


# --- remote signing through the CSC API ---------------------------------------------------


def test_csc_signature_is_qualified_b_lt_with_visible_greek_box(
    signing: TwoStepSigning, pki: TestPki, csc_url: str
) -> None:
    service = CscService(csc_url, f"{ARCH}/official")

    (signed,) = sign_remotely(signing, service, [(simple_pdf(2), official_stamp())], pin="1234")

    assert_qualified_b_lt(signed, pki)
    has_font, font_embedded = stamp_text_and_fonts(signed)
    assert has_font and font_embedded


def test_csc_batch_uses_one_authorisation(
    signing: TwoStepSigning, pki: TestPki, csc_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = CscService(csc_url, f"{ARCH}/official")
    calls: list[tuple[str, int]] = []
    real_call = CscService._call

    async def counting(self: CscService, http: Any, method: str, body: dict[str, Any]) -> Any:
        calls.append((method, len(body.get("hash", []))))
        return await real_call(self, http, method, body)

    monkeypatch.setattr(CscService, "_call", counting)
    documents = [(simple_pdf(1, text=f"Έγγραφο {n}"), official_stamp()) for n in range(3)]

    signed = sign_remotely(signing, service, documents, pin="1234", otp="123456")

    assert [c for c in calls if c[0] != "credentials/info"] == [
        ("credentials/authorize", 3),
        ("signatures/signHash", 3),
    ]
    assert len({hash(s) for s in signed}) == 3
    for document in signed:
        assert_qualified_b_lt(document, pki)


def test_csc_signature_not_matching_the_documents_is_refused(
    signing: TwoStepSigning, csc_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = CscService(csc_url, f"{ARCH}/official")
    real = CscService._sign_hashes

    async def swapped(self: CscService, *args: Any) -> list[bytes]:
        values = await real(self, *args)
        return values[::-1]  # each value belongs to the other document

    monkeypatch.setattr(CscService, "_sign_hashes", swapped)
    documents = [(simple_pdf(1, text=f"Έγγραφο {n}"), official_stamp()) for n in range(2)]

    with pytest.raises(SignatureMismatch, match="does not match the certificate and the document"):
        sign_remotely(signing, service, documents, pin="1234")


def test_csc_credential_of_another_key_is_refused(
    signing: TwoStepSigning, pki: TestPki, csc_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service signs with a key other than its certificate's: refused, nothing produced."""
    service = CscService(csc_url, f"{ARCH}/official")
    service.credential()  # the official's certificate...
    monkeypatch.setattr(service, "credential_id", f"{ARCH}/qualified")  # ...another key signs

    with pytest.raises(SignatureMismatch, match="does not match the certificate"):
        sign_remotely(signing, service, [(simple_pdf(1), official_stamp())], pin="1234")


def test_csc_batch_beyond_the_service_limit_is_refused(
    signing: TwoStepSigning, csc_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = CscService(csc_url, f"{ARCH}/official")
    credential = service.credential()
    monkeypatch.setattr(service, "_credential", type(credential)(**{**vars(credential), "multisign": 2}))

    with pytest.raises(CscRefused, match="at most 2 documents"):
        sign_remotely(signing, service, [(simple_pdf(1), None)] * 3, pin="1234")


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("signer", "not a qualified certificate"),  # no QC statements at all
        ("qualified", "QcType esign"),  # a qualified seal, not a signature
        ("official-expired", "valid only from"),
        ("official-revoked", "revoked"),
    ],
)
def test_csc_unfit_certificates_are_refused_before_signing(
    signing: TwoStepSigning,
    csc_url: str,
    label: str,
    words: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = CscService(csc_url, f"{ARCH}/{label}")
    asked: list[str] = []
    monkeypatch.setattr(CscService, "sign_hashes", lambda self, *a, **k: asked.append("sign") or [])

    with pytest.raises(SignerCertificateError, match=words):
        sign_remotely(signing, service, [(simple_pdf(1), official_stamp())], pin="1234")
    assert asked == []  # no authorisation was asked for


def test_csc_with_tsa_down_keeps_the_signatures_for_a_later_finish(
    signing: TwoStepSigning, pki: TestPki, csc_url: str
) -> None:
    service = CscService(csc_url, f"{ARCH}/official")
    pki.server.down = {"tsa"}

    with pytest.raises(RemoteSigningIncomplete, match="finish them later") as caught:
        sign_remotely(signing, service, [(simple_pdf(1), official_stamp())] * 2, pin="1234")

    stored = json.dumps(caught.value.to_dicts())  # kept in the database meanwhile
    pki.server.down = set()
    restored = [
        (PendingSignature.from_dict(item["pending"]), base64.b64decode(item["signature"]))
        for item in json.loads(stored)
    ]
    for document in signing.finish_many(restored):
        assert_qualified_b_lt(document, pki)


# --- external signer: hash out, signature in ---------------------------------------------


@pytest.fixture
def pending(signing: TwoStepSigning, pki: TestPki) -> PendingSignature:
    """A document prepared for the official's desktop signing app."""
    return signing.begin(simple_pdf(2), pki.pki.cert("official"), pki.pki.chain("official"), official_stamp())


def test_external_signer_returns_raw_signature_and_certificate(
    signing: TwoStepSigning, pki: TestPki, pending: PendingSignature
) -> None:
    package = json.loads(json.dumps(to_be_signed(pending)))  # what the app downloads
    digest = base64.b64decode(package["digest_to_sign"])
    assert package["digest_algorithm"] == "sha256"
    answer = {
        "signature_value": base64.b64encode(sign(pki, "official", digest)).decode(),
        "certificate": package["signing_certificate"],
    }

    signed = finish_external(signing, pending, json.dumps(answer))

    assert_qualified_b_lt(signed, pki)


def _app_cms(pki: TestPki, label: str, document_digest: bytes) -> bytes:
    """A detached CMS as a desktop app builds it: its own PAdES signed attributes."""
    signer = signers.SimpleSigner.load_pkcs12(str(pki.p12(label)), passphrase=b"test-pass")  # the app
    assert signer is not None
    content = run_coroutine(signer.async_sign(document_digest, "sha256", use_pades=True))
    data: bytes = content.dump()
    return data


def test_external_signer_returns_a_cms(
    signing: TwoStepSigning, pki: TestPki, pending: PendingSignature
) -> None:
    package = to_be_signed(pending)
    cms = _app_cms(pki, "official", base64.b64decode(package["document_sha256"]))

    signed = finish_external(signing, pending, {"cms": base64.b64encode(cms).decode()})

    assert_qualified_b_lt(signed, pki)


def test_external_cms_for_another_document_is_refused(
    signing: TwoStepSigning, pki: TestPki, pending: PendingSignature
) -> None:
    cms = _app_cms(pki, "official", bytes(32))

    with pytest.raises(SignatureMismatch, match="does not match the document's hash"):
        finish_external(signing, pending, {"cms": base64.b64encode(cms).decode()})


def test_external_cms_by_another_certificate_is_refused(
    signing: TwoStepSigning, pki: TestPki, pending: PendingSignature
) -> None:
    cms = _app_cms(pki, "qualified", pending.document_digest)

    with pytest.raises(SignatureMismatch, match="another certificate"):
        finish_external(signing, pending, {"cms": base64.b64encode(cms).decode()})


def test_external_raw_signature_by_another_key_is_refused(
    signing: TwoStepSigning, pki: TestPki, pending: PendingSignature
) -> None:
    wrong = sign(pki, "qualified", pending.digest_to_sign)

    with pytest.raises(SignatureMismatch, match="does not match the certificate and the document"):
        finish_external(signing, pending, {"signature_value": base64.b64encode(wrong).decode()})


def test_external_answer_naming_another_certificate_is_refused(
    signing: TwoStepSigning, pki: TestPki, pending: PendingSignature
) -> None:
    answer = {
        "signature_value": base64.b64encode(sign(pki, "official", pending.digest_to_sign)).decode(),
        "certificate": base64.b64encode(pki.pki.cert("qualified").dump()).decode(),
    }

    with pytest.raises(SignatureMismatch, match="another certificate"):
        finish_external(signing, pending, answer)


@pytest.mark.parametrize(
    "answer",
    ["not json", {"signature_value": "%%%"}, {"cms": base64.b64encode(b"garbage").decode()}, {}],
    ids=["not-json", "bad-base64", "garbage-cms", "empty"],
)
def test_external_malformed_answers_are_refused(
    signing: TwoStepSigning, pending: PendingSignature, answer: Any
) -> None:
    with pytest.raises(SignatureMismatch):
        finish_external(signing, pending, answer)


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("signer", "not a qualified certificate"),
        ("official-expired", "valid only from"),
        ("official-revoked", "revoked"),
    ],
)
def test_external_unfit_certificates_are_refused_before_the_hash_is_handed_out(
    signing: TwoStepSigning, pki: TestPki, label: str, words: str
) -> None:
    with pytest.raises(SignerCertificateError, match=words):
        signing.begin(simple_pdf(1), pki.pki.cert(label), pki.pki.chain(label), official_stamp())


def test_external_with_tsa_down_the_pending_signature_survives(
    signing: TwoStepSigning, pki: TestPki, pending: PendingSignature
) -> None:
    stored = json.dumps(pending.to_dict())
    answer = {"signature_value": base64.b64encode(sign(pki, "official", pending.digest_to_sign)).decode()}
    pki.server.down = {"tsa"}

    with pytest.raises(TimestampUnavailable, match="retried when the TSA is back"):
        finish_external(signing, PendingSignature.from_dict(json.loads(stored)), answer)

    pki.server.down = set()
    signed = finish_external(signing, PendingSignature.from_dict(json.loads(stored)), answer)
    assert_qualified_b_lt(signed, pki)


@pytest.fixture(autouse=True)
def _services_back_on(pki: TestPki) -> Iterator[None]:
    yield
    pki.server.down = set()
