"""The engine's command line: processes, audit verify, incidents, against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto.pem import armor as pem_armor
from click.testing import CliRunner

from cli.main import main
from tests.signing.conftest import test_pki  # noqa: F401  (fixture: a TSA on loopback)
from tests.signing.pkitools import TestPki

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("POLIS_ENV", "test")
    monkeypatch.setenv("POLIS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("POLIS_VAR_DIR", str(tmp_path / "var"))
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    return invoke


def test_processes_deploy_list_and_validate(run: object, tmp_path: Path) -> None:
    code, out = run("processes", "deploy")  # type: ignore[operator]
    assert code == 0 and "document_approval v1: deployed" in out
    code, out = run("processes", "deploy")  # type: ignore[operator]
    assert code == 0 and "document_approval v1: unchanged" in out
    code, out = run("processes", "list")  # type: ignore[operator]
    assert code == 0 and "document_approval" in out and "v1" in out
    bad = tmp_path / "bad.bpmn"
    bad.write_text("this is not XML")
    code, out = run("processes", "validate", str(bad))  # type: ignore[operator]
    assert code == 1 and "not well-formed XML" in out and "Traceback" not in out


def test_audit_verify_and_incidents(run: object) -> None:
    code, out = run("audit", "verify")  # type: ignore[operator]
    assert code == 0 and "intact" in out
    code, out = run("incidents", "list")  # type: ignore[operator]
    assert code == 0 and "No open incidents" in out
    code, out = run("incidents", "retry", "999")  # type: ignore[operator]
    assert code == 1 and "no open incident 999" in out
    code, out = run("messages", "purge")  # type: ignore[operator]
    assert code == 0 and "Purged 0 expired message(s)." in out


def test_processes_schedules_list_pause_and_resume(run: object) -> None:
    code, out = run("processes", "schedules")  # type: ignore[operator]
    assert code == 0 and "No deployed process has a timer start event." in out
    run("processes", "deploy")  # type: ignore[operator]
    code, out = run("processes", "schedules")  # type: ignore[operator]
    line = next(x for x in out.splitlines() if x.startswith("protocol_daily_report"))
    # The next start in Athens time: 08:00 EET or EEST.
    assert "0 0 8 ? * MON-FRI" in line and " 08:00 EE" in line and "remaining ∞" in line
    code, out = run("processes", "schedules", "--pause", "protocol_daily_report")  # type: ignore[operator]
    assert code == 0 and "protocol_daily_report: paused" in out and "next paused" in out
    code, out = run("processes", "schedules", "--resume", "protocol_daily_report")  # type: ignore[operator]
    assert code == 0 and " 08:00 EE" in out
    code, out = run("processes", "schedules", "--pause", "nothing_here")  # type: ignore[operator]
    assert code == 1 and "has no timer start schedule" in out and "Traceback" not in out


def test_deploying_an_older_version_says_so(run: object, tmp_path: Path) -> None:
    original = (ROOT / "processes" / "document_approval.bpmn").read_bytes()
    v1, v2 = tmp_path / "v1.bpmn", tmp_path / "v2.bpmn"
    v1.write_bytes(original)
    v2.write_bytes(original + b"\n<!-- version 2 -->\n")
    code, out = run("processes", "deploy", str(v1))  # type: ignore[operator]
    assert code == 0 and "document_approval v1: deployed" in out
    code, out = run("processes", "deploy", str(v2))  # type: ignore[operator]
    assert code == 0 and "document_approval v2: deployed" in out
    code, out = run("processes", "deploy", str(v2))  # type: ignore[operator]
    assert "v2: unchanged, identical to the newest version" in out
    code, out = run("processes", "deploy", str(v1))  # type: ignore[operator]
    assert "NOT deployed" in out and "version 1, older than the newest version 2" in out


def test_audit_anchor_then_verify(
    run: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    test_pki: TestPki,  # noqa: F811
) -> None:
    root = tmp_path / "tsa-root.pem"
    root.write_bytes(pem_armor("CERTIFICATE", test_pki.pki.cert("root").dump()))
    monkeypatch.setenv("POLIS_SIGNING_TSA_URL", test_pki.pki.tsa_url)
    monkeypatch.setenv("POLIS_SIGNING_TRUST_ROOTS", str(root))
    code, out = run("audit", "verify")  # type: ignore[operator]
    assert code == 0 and "No anchor yet" in out
    code, out = run("audit", "anchor")  # type: ignore[operator]
    assert code == 0 and "Anchored at" in out, out
    code, out = run("audit", "verify")  # type: ignore[operator]
    assert code == 0 and "1 anchor(s)" in out, out
