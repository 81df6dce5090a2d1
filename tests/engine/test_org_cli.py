"""``polis org|users|substitutions|documents`` and the admin log in ``polis audit verify``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from cli.main import main
from engine.issuing.registry import IssuedDocument, issue_document
from engine.people.demo import DEMO_CSV
from tests.conftest import TestServer as PgTestServer

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("POLIS_ENV", "test")
    monkeypatch.setenv("POLIS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("POLIS_VAR_DIR", str(tmp_path / "var"))
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(main, list(args), input=stdin, catch_exceptions=False)
        return result.exit_code, result.output

    return invoke


def test_org_import_show_and_users(run: Run, tmp_path: Path) -> None:
    code, out = run("org", "import", str(DEMO_CSV), "--dry-run")
    assert code == 0 and "+ person proistamenos (Νίκος Σταυρακάκης)" in out and "would be made" in out
    code, out = run("org", "show")
    assert code == 0 and "No units yet" in out  # the dry run changed nothing
    code, out = run("org", "import", str(DEMO_CSV))
    assert code == 0 and "change(s) applied" in out and "set-password" in out
    code, out = run("org", "import", str(DEMO_CSV))
    assert code == 0 and "Nothing to change" in out
    code, out = run("org", "show")
    lines = out.splitlines()
    assert lines[0].startswith("DHMOS  Δήμος Επίδειξης (municipality)")
    assert "      DHM  Τμήμα Δημοτολογίου και Ληξιαρχείου (department)" in lines
    assert any("head: Νίκος Σταυρακάκης (proistamenos)" in line for line in lines)

    code, out = run(
        "users", "create", "nea.ypallilos", "--name", "Νέα Υπάλληλος", "--unit", "DHM", "--position", "clerk",
        stdin="a-good-password\na-good-password\n",
    )  # fmt: skip
    assert code == 0 and "Position: clerk in DHM" in out
    code, out = run("users", "set-password", "proistamenos", "--password-stdin", stdin="another-password\n")
    assert code == 0
    code, out = run("users", "deactivate", "nea.ypallilos")
    assert code == 0
    code, out = run("users", "list")
    row = next(line for line in out.splitlines() if line.startswith("nea.ypallilos"))
    assert row.endswith("[deactivated]")
    assert "clerk@DHM" in next(line for line in out.splitlines() if line.startswith("ypallilos "))

    code, out = run(
        "substitutions",
        "add",
        "DHM",
        "proistamenos",
        "ypallilos",
        "--from",
        "2027-07-01",
        "--to",
        "2027-07-15",
    )
    assert code == 1 and "holds no head position" in out
    args = ("substitutions", "add", "DHM", "proistamenos", "proistamenos.esodon")
    code, out = run(*args, "--from", "2027-07-01", "--to", "2027-07-15")
    assert code == 0
    code, out = run(*args, "--from", "2027-07-10", "--to", "2027-07-20")
    assert code == 1 and "from 01/07/2027 to 15/07/2027" in out

    bad = tmp_path / "bad.csv"
    bad.write_text(DEMO_CSV.read_text(encoding="utf-8").replace(",clerk,", ",chief,", 1), encoding="utf-8")
    code, out = run("org", "import", str(bad))
    assert code == 1 and "line 9: unknown position 'chief'" in out


def test_documents_revoke_and_the_admin_log_in_audit_verify(
    run: Run, fresh_db_url: str, pg_server: PgTestServer
) -> None:
    run("db", "upgrade")
    engine = create_engine(fresh_db_url)
    # The owner of the tables (the migration role): what an insider can do behind Polis's back.
    owner = create_engine(pg_server.url(str(make_url(fresh_db_url).database)))
    try:
        with Session(engine) as session, session.begin():
            document = issue_document(session, title="Βεβαίωση", pdf=b"%PDF-1.7 test", storage_key="k/1")
            code_ = document.verification_code
        # ``--``: codes issued before 2026-12 may begin with a dash.
        code, out = run("documents", "revoke", "--reason", "issued to the wrong person", "--", code_)
        assert code == 0 and "revoked" in out
        code, out = run("documents", "revoke", "--reason", "issued to the wrong person", "--", code_)
        assert code == 1 and "already revoked" in out
        with Session(engine) as session:
            revoked = session.scalars(
                select(IssuedDocument).where(IssuedDocument.verification_code == code_)
            ).one()
            assert (revoked.status, revoked.revocation_reason) == ("revoked", "issued to the wrong person")
        code, out = run("audit", "verify")
        assert code == 0 and "admin log" in out
        # Someone with the database owner's rights edits history behind Polis's back.
        with owner.begin() as connection:
            with pytest.raises(Exception, match="append-only"), connection.begin_nested():
                connection.execute(text("UPDATE admin_events SET actor = 'nobody'"))
            connection.execute(text("ALTER TABLE admin_events DISABLE TRIGGER admin_events_append_only"))
            connection.execute(text("UPDATE admin_events SET details = '{}'::jsonb WHERE seq = 1"))
        code, out = run("audit", "verify")
        assert code == 1 and "admin log: entry 1 (document.revoke) was altered" in out
        with owner.begin() as connection:
            connection.execute(text("DELETE FROM admin_events"))
        code, out = run("audit", "verify")
        assert code == 1 and "the newest entries are missing" in out
    finally:
        engine.dispose()
        owner.dispose()
