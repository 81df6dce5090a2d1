"""``polis protocol export``: the yearly book as CSV or JSON, streamed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from cli.main import main
from core.orm import make_engine, make_session_factory, session_scope
from engine.protocol.entries import cancel, create_registry, register
from engine.protocol.export import COLUMNS, csv_lines, iter_book, json_chunks
from tests.protocol.factories import draft, fixed_clock, incoming, make_user

START = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


def fill(session: Session) -> None:
    """Five general entries and two of a second registry in 2026, one entry in 2025."""
    create_registry(session, "ΔΤΥ", "Διεύθυνση Τεχνικών Υπηρεσιών", "Technical Services")
    clerk = make_user(session)
    for hour in range(5):
        item = incoming(sender="Ανδρέας Νικολάου, Οδός 1") if hour % 2 else draft(recipients=("Α", "Β"))
        register(session, item, registered_by=clerk, now=fixed_clock(START + timedelta(hours=hour)))
    for hour in range(2):
        register(session, draft(registry="ΔΤΥ"), now=fixed_clock(START + timedelta(hours=hour)))
    old = register(session, draft(), now=fixed_clock(START - timedelta(days=30)))
    cancel(session, old.id, reason="Λάθος", cancelled_by=clerk, now=fixed_clock(START))


def test_the_book_is_ordered_by_registry_and_number(db_session: Session) -> None:
    fill(db_session)
    rows = list(iter_book(db_session, 2026))
    assert [(row["registry"], row["number"]) for row in rows] == [("GEN", n) for n in range(1, 6)] + [
        ("ΔΤΥ", 1),
        ("ΔΤΥ", 2),
    ]
    parsed = list(csv.DictReader(io.StringIO("".join(csv_lines(iter(rows))))))
    assert tuple(parsed[0]) == COLUMNS
    assert parsed[1]["sender"] == "Ανδρέας Νικολάου, Οδός 1"
    assert json.loads("".join(json_chunks(iter(rows))))[0]["recipients"] == "Α; Β"
    assert json.loads("".join(json_chunks(iter([])))) == []


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_command_writes_the_book_with_a_progress_bar(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    engine = make_engine(fresh_db_url)
    with session_scope(make_session_factory(engine)) as session:
        fill(session)
    engine.dispose()
    monkeypatch.setenv("POLIS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("POLIS_VAR_DIR", str(tmp_path / "var"))
    output = tmp_path / f"book.{fmt}"
    args = ["protocol", "export", "--year", "2026", "--format", fmt, "--registry", "GEN", "-o", str(output)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "5 entries of 2026 exported" in result.output
    text = output.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text))) if fmt == "csv" else json.loads(text)
    assert [int(row["number"]) for row in rows] == [1, 2, 3, 4, 5]


def test_an_unknown_registry_is_a_clear_error(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLIS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("POLIS_VAR_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(main, ["protocol", "export", "--year", "2026", "--registry", "ΧΧ"])
    assert result.exit_code == 1
    assert "no protocol registry with code 'ΧΧ'" in result.output


def test_a_registry_is_added_from_the_command_line(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLIS_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("POLIS_VAR_DIR", str(tmp_path / "var"))
    args = ["protocol", "add-registry", "ΔΟΥ", "Διεύθυνση Οικονομικών", "Finance"]
    assert CliRunner().invoke(main, args).exit_code == 0
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1
    assert "exists already" in again.output
