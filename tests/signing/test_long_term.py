"""Controlled time: B-LT and B-LTA seals still verify long after, offline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from signing.sealer import PadesLevel, Sealer
from signing.signers import Signer
from signing.verify import Verdict, verify
from tests.signing.conftest import make_pkcs12
from tests.signing.pkitools import TestPki


@pytest.mark.parametrize("level", [PadesLevel.B_LT, PadesLevel.B_LTA], ids=lambda lv: lv.value)
def test_long_term_seal_verifies_offline_years_later(
    level: PadesLevel, pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    sealed = Sealer(signer_factory("pkcs12"), level=level, tsa_url=pki.pki.tsa_url).seal(pdf)
    pki.server.outage = True

    # long past the OCSP answers' and CRLs' own validity (minutes and weeks)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=3 * 365), tick=False):
        report = verify(sealed, [pki.root], allow_fetching=True)

    assert report.verdict is Verdict.VALID, report.reason


def test_b_t_seal_is_indeterminate_once_revocation_data_is_unavailable(
    pki: TestPki, pdf: bytes, signer_factory: Callable[[str], Signer]
) -> None:
    sealed = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_T, tsa_url=pki.pki.tsa_url).seal(pdf)
    pki.server.outage = True

    with time_machine.travel(datetime.now(UTC) + timedelta(days=365), tick=False):
        report = verify(sealed, [pki.root], allow_fetching=True)

    assert report.verdict is Verdict.INDETERMINATE


def test_revocation_after_signing_does_not_invalidate_a_b_lt_seal(pki: TestPki, pdf: bytes) -> None:
    sealed = Sealer(make_pkcs12(pki, "revoked-later"), level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url).seal(
        pdf
    )

    with time_machine.travel(datetime.now(UTC) + timedelta(days=30), tick=False):
        report = verify(sealed, [pki.root], allow_fetching=True)

    assert report.verdict is Verdict.VALID, report.reason
    assert not report.signatures[0].revoked
