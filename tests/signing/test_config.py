"""Signing settings: validated with clear messages; the right signer and sealer are built."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigurationError
from core.settings import load_settings
from signing.config import sealer_for, signer_for, trust_roots_for
from signing.errors import SignerConfigurationError
from signing.sealer import PadesLevel
from signing.signers import Pkcs11Signer
from signing.verify import Verdict, verify
from tests.signing.pkitools import SOFTHSM_MODULE, SoftHsmToken, TestPki, simple_pdf


def test_missing_signer_settings_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(var_dir=tmp_path, signing_signer="pkcs12")

    message = caught.value.message
    assert "POLIS_SIGNING_PKCS12_PATH is required when POLIS_SIGNING_SIGNER=pkcs12" in message
    assert "Example: POLIS_SIGNING_PKCS12_PATH=" in message
    assert "POLIS_SIGNING_TSA_URL is required for PAdES B-LT" in message


def test_demo_signer_is_refused_in_production(tmp_path: Path) -> None:
    settings = load_settings(var_dir=tmp_path, env="production", secret_key="x" * 40)

    with pytest.raises(ConfigurationError, match="refused in production"):
        sealer_for(settings)
    assert not (tmp_path / "pki").exists()


def test_unknown_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="POLIS_SIGNING_LEVEL"):
        load_settings(var_dir=tmp_path, signing_level="PAdES-E-LTV")


def test_b_b_needs_no_tsa(tmp_path: Path, test_pki: TestPki) -> None:
    settings = load_settings(
        var_dir=tmp_path,
        signing_signer="pkcs12",
        signing_pkcs12_path=test_pki.p12("signer"),
        signing_pkcs12_passphrase="test-pass",
        signing_level="B-B",
    )

    assert sealer_for(settings).level is PadesLevel.B_B


def test_demo_settings_seal_out_of_the_box(tmp_path: Path) -> None:
    import socket

    from signing.config import demo_pki_for, start_demo_services

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(var_dir=tmp_path, signing_demo_pki_port=port)
    demo = demo_pki_for(settings)
    assert demo is not None and demo.directory == tmp_path / "pki"
    server = start_demo_services(settings)
    assert server is not None
    try:
        sealed = sealer_for(settings).seal(simple_pdf())
    finally:
        server.stop()

    report = verify(sealed, trust_roots_for(settings))
    assert report.verdict is Verdict.VALID, report.reason
    assert report.signatures[0].level == "B-LT"


def test_pkcs11_from_settings(tmp_path: Path, test_pki: TestPki, hsm_token: SoftHsmToken) -> None:
    from tests.signing.conftest import chain_files

    settings = load_settings(
        var_dir=tmp_path,
        signing_signer="pkcs11",
        signing_pkcs11_module=SOFTHSM_MODULE,
        signing_pkcs11_token_label=hsm_token.label,
        signing_pkcs11_pin=hsm_token.pin,
        signing_pkcs11_key_label=hsm_token.key_label,
        signing_chain_files=",".join(str(p) for p in chain_files(test_pki)),
        signing_tsa_url=test_pki.pki.tsa_url,
        signing_trust_roots=str(test_pki.root_pem),
    )
    signer = signer_for(settings)
    try:
        assert isinstance(signer, Pkcs11Signer)
        assert len(signer.chain) == 2
    finally:
        signer.close()


def test_unreadable_trust_root(tmp_path: Path) -> None:
    settings = load_settings(
        var_dir=tmp_path,
        signing_signer="pkcs12",
        signing_pkcs12_path=tmp_path / "x.p12",
        signing_level="B-B",
        signing_trust_roots=str(tmp_path / "missing.pem"),
    )

    with pytest.raises(SignerConfigurationError, match="POLIS_SIGNING_TRUST_ROOTS"):
        trust_roots_for(settings)
