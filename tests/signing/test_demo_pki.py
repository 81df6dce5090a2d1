"""The demo PKI that ``make run`` generates and serves."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from signing.demo_pki import NOT_QUALIFIED, ensure_demo_pki, serve_demo_pki
from signing.sealer import PadesLevel
from signing.verify import Verdict, verify
from tests.signing.pkitools import openssl_verify_all, simple_pdf


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_demo_pki_seals_at_b_lt_out_of_the_box(tmp_path: Path) -> None:
    demo = ensure_demo_pki(tmp_path / "var" / "pki", port=_free_port())
    server = serve_demo_pki(demo)
    assert server is not None
    try:
        sealed = demo.sealer().seal(simple_pdf())
        assert serve_demo_pki(demo) is None, "a second process finds the port served"
    finally:
        server.stop()

    report = verify(sealed, demo.trust_roots())  # responders are off now
    assert report.verdict is Verdict.VALID, report.reason
    signature = report.signatures[0]
    assert signature.level == PadesLevel.B_LT.value
    assert NOT_QUALIFIED in (signature.signer_name or "")
    assert not signature.qualified.qualified
    assert openssl_verify_all(sealed, demo.root_cert_path) == 1


def test_demo_pki_is_generated_once(tmp_path: Path) -> None:
    first = ensure_demo_pki(tmp_path / "pki", port=_free_port())
    second = ensure_demo_pki(tmp_path / "pki", port=_free_port())

    assert second.port == first.port, "the port is written into the certificates"
    assert second.trust_roots()[0].dump() == first.trust_roots()[0].dump()
    assert "NOT QUALIFIED" in first.trust_roots()[0].subject.human_friendly
    assert (tmp_path / "pki" / "eseal.p12").stat().st_mode & 0o077 == 0


def test_demo_port_taken_by_someone_else_is_not_fatal(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        demo = ensure_demo_pki(tmp_path / "pki", port=squatter.getsockname()[1])
        assert serve_demo_pki(demo) is None


@pytest.mark.parametrize("level", [PadesLevel.B_B])
def test_demo_sealer_without_server_at_b_b(tmp_path: Path, level: PadesLevel) -> None:
    demo = ensure_demo_pki(tmp_path / "pki", port=_free_port())

    sealed = demo.sealer(level).seal(simple_pdf())

    assert verify(sealed, demo.trust_roots()).signatures[0].intact
