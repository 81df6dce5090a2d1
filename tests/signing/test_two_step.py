"""Interrupted signing: digest out, signature in later (another process), at every level."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from core.errors import InvalidInput
from signing.remote_signers import sign_digest_with_key
from signing.sealer import PadesLevel
from signing.stamp import Stamp
from signing.two_step import PendingSignature, TwoStepSigning
from signing.verify import Verdict, verify
from tests.signing.pkitools import TestPki, openssl_verify_all


@pytest.mark.parametrize("level", list(PadesLevel), ids=lambda level: level.value)
def test_two_step_signature_validates(level: PadesLevel, pki: TestPki, pdf: bytes) -> None:
    signing = TwoStepSigning(level=level, tsa_url=pki.pki.tsa_url, trust_roots=[pki.root])
    pending = signing.begin(
        pdf,
        pki.pki.cert("signer"),
        pki.pki.chain("signer"),
        Stamp("https://polis.example.gr/verify/T2", "T2"),
    )
    stored = json.dumps(pending.to_dict())  # kept in the database between the two steps

    # ... later, the official's card signs the digest ...
    key = load_pem_private_key(pki.pki.private_key_pem("signer"), None)
    signature = sign_digest_with_key(key)(pending.digest_to_sign, "sha256")
    assert isinstance(signature, bytes)
    signed = signing.finish(PendingSignature.from_dict(json.loads(stored)), signature)

    report = verify(signed, [pki.root], allow_fetching=True)
    assert report.verdict is Verdict.VALID, report.reason
    assert report.signatures[0].level == level.value
    assert openssl_verify_all(signed, pki.root_pem) == 1 + report.document_timestamps


def test_wrong_signature_is_refused(pki: TestPki, pdf: bytes) -> None:
    signing = TwoStepSigning(level=PadesLevel.B_B)
    pending = signing.begin(pdf, pki.pki.cert("signer"), pki.pki.chain("signer"))
    other_key = load_pem_private_key(pki.pki.private_key_pem("qualified"), None)
    wrong = sign_digest_with_key(other_key)(pending.digest_to_sign, "sha256")
    assert isinstance(wrong, bytes)

    with pytest.raises(InvalidInput, match="does not match the certificate"):
        signing.finish(pending, wrong)


def test_damaged_pending_record_is_refused() -> None:
    with pytest.raises(InvalidInput, match="start the signing again"):
        PendingSignature.from_dict({"prepared_pdf": "AAAA"})
