"""``polis catalogue check`` and ``list`` as an administrator uses them."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from cli.main import main
from forms.catalogue import CATALOGUE_DIR


def test_check_lists_the_valid_services():
    result = CliRunner().invoke(main, ["catalogue", "check"])
    assert result.exit_code == 0, result.output
    assert "services, all valid" in result.output
    assert "family_status" in result.output


def test_check_names_the_broken_file_and_exits_1(tmp_path):
    root = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, root)
    path = root / "no_debts" / "service.json"
    doc = json.loads(path.read_text())
    doc["deadline_working_days"] = -3
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["catalogue", "check", "--path", str(root)])
    assert result.exit_code == 1
    assert "no_debts/service.json" in result.output
    assert "deadline_working_days: -3 is less than the minimum of 0" in result.output


def test_list_in_english():
    result = CliRunner().invoke(main, ["catalogue", "list", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "Family status certificate" in result.output
    assert "public_space_use" in result.output
