"""README's "First day in production", run step by step against a fresh database.

The commands are read from the README itself, so the documentation and this test cannot
drift apart: every line of the section's ``sh`` block is run in order with POLIS_ENV=production;
a line whose comment says "refused" must fail with a message, every other one must succeed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cli.main import main
from engine.people.accounts import authenticate
from engine.people.acting import acting_staff
from engine.people.demo import DEMO_CSV
from engine.people.models import Department, User
from engine.workflow.models import ProcessDefinition
from forms.catalogue import list_services

ROOT = Path(__file__).resolve().parents[1]


def first_day_commands() -> list[str]:
    """The ``polis`` lines of the README section, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## First day in production", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the section has no sh block"
    return [line for line in block.group(1).splitlines() if line.startswith("polis ")]


def test_the_readme_first_day_steps_bring_up_a_working_municipality(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLIS_ENV", "production")
    monkeypatch.setenv("POLIS_SECRET_KEY", "first-day-secret-key-first-day-secret-key")
    monkeypatch.setenv("POLIS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("POLIS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("POLIS_BASE_URL", "https://polis.dimos.example")
    # The municipality's HR export: the demo chart stands in for it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "orgchart.csv").write_bytes(DEMO_CSV.read_bytes())
    runner = CliRunner()
    commands = first_day_commands()
    assert [c.split()[1] for c in commands][:3] == ["demo", "db", "org"]
    for line in commands:
        command, _, comment = line.partition("#")
        args = shlex.split(command)[1:]
        result = runner.invoke(main, args, input="first-day-pass\nfirst-day-pass\n", catch_exceptions=False)
        if "refused" in comment:
            assert result.exit_code == 1, (line, result.output)
            assert "production" in result.output, result.output
        else:
            assert result.exit_code == 0, (line, result.output)
        if args[:2] == ["org", "import"] and "--dry-run" in args:
            assert "+ unit DHMOS" in result.output and "would be made" in result.output
        if args[:2] == ["org", "show"]:
            assert "DHMOS" in result.output and "Δήμαρχος" in result.output

    engine = create_engine(fresh_db_url)
    try:
        with Session(engine) as session:
            units = {
                u.code for u in session.scalars(select(Department).where(Department.is_active.is_(True)))
            }
            assert {s.department for s in list_services()} <= units
            admin = authenticate(session, "it.admin", "first-day-pass")
            assert acting_staff(session, admin).roles == ("admin",)
            head = authenticate(session, "proistamenos", "first-day-pass")
            assert acting_staff(session, head).roles == ("head",)
            assert session.scalar(select(User.password_hash).where(User.username == "ypallilos")) is None
            assert session.scalar(select(ProcessDefinition.process_id).limit(1)) is not None
    finally:
        engine.dispose()
    # A second import of the same file changes nothing.
    again = runner.invoke(main, ["org", "import", "orgchart.csv"], catch_exceptions=False)
    assert again.exit_code == 0 and "Nothing to change" in again.output
