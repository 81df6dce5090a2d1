"""migrations/env_models.py imports every module that declares tables, so alembic sees them all."""

from __future__ import annotations

import ast

from tests.test_layout import PACKAGES, ROOT, module_name


def test_env_models_imports_every_models_module() -> None:
    declaring = {
        module_name(path)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__tablename__" in path.read_text(encoding="utf-8")
    }
    tree = ast.parse((ROOT / "migrations" / "env_models.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert sorted(declaring - imported) == []
