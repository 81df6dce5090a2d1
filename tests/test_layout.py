"""The architecture, checked: imports point one way and no two modules import each other.

Order (top to bottom): cli → web → engine → {forms, signing, storage} → core. Inside the
engine, ``engine.workflow`` (the BPMN runtime) imports no domain package; the domains plug
into it through its registries. Every import counts, also one inside a function or under
``TYPE_CHECKING``: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cli", "web", "engine", "forms", "signing", "storage", "core")
#: What each top-level package may import (besides itself).
ALLOWED = {
    "cli": {"web", "engine", "forms", "signing", "storage", "core"},
    "web": {"engine", "forms", "signing", "storage", "core"},
    "engine": {"forms", "signing", "storage", "core"},
    "forms": {"core"},
    "signing": {"core"},
    "storage": {"core"},
    "core": set(),
}
WORKFLOW = "engine.workflow"


def module_name(path: Path) -> str:
    """``engine/workflow/runtime.py`` → ``engine.workflow.runtime``; a package is its folder."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The project modules ``name`` imports (``from a import b`` counts ``a.b`` when it is a module)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t if t in known else base for t in targets]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                yield target


def graph() -> dict[str, set[str]]:
    """Module → the project modules it imports."""
    modules = project_modules()
    known = set(modules)
    return {name: set(imports_of(name, path, known)) for name, path in modules.items()}


def test_imports_point_down() -> None:
    wrong = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        for target in targets
        if (top := target.split(".")[0]) != source.split(".")[0] and top not in ALLOWED[source.split(".")[0]]
    ]
    assert wrong == [], (
        "imports against the layer order (cli → web → engine → {forms, signing, storage} → core)"
    )


def test_workflow_imports_no_domain() -> None:
    wrong = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        if source == WORKFLOW or source.startswith(WORKFLOW + ".")
        for target in targets
        if target.startswith("engine") and not (target == WORKFLOW or target.startswith(WORKFLOW + "."))
    ]
    assert wrong == [], "engine.workflow is the BPMN runtime alone; domains register with it"


def test_no_two_modules_import_each_other() -> None:
    edges = graph()
    pairs = sorted(
        f"{a} <-> {b}" for a, targets in edges.items() for b in targets if a < b and a in edges.get(b, set())
    )
    assert pairs == []


def test_no_import_cycles() -> None:
    edges = {a: {b for b in targets if b in set(targets) and b != a} for a, targets in graph().items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt in edges and state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if state.get(node) is None:
            visit(node)
    assert [" → ".join(cycle) for cycle in cycles] == []


def test_every_package_says_what_it_is() -> None:
    missing = [
        name
        for name, path in project_modules().items()
        if path.name == "__init__.py" and not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == [], "every package opens with a docstring: what it is and what it may import"


def test_readme_layout_map_matches_the_tree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    mapped = {line.split("`")[1].rstrip("/") for line in section.splitlines() if line.startswith("| `")}
    packages = {
        str(path.parent.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("__init__.py")
    }
    assert sorted(packages - mapped) == [], "packages missing from the README's layout map"
    assert sorted(p for p in mapped if not (ROOT / p).is_dir()) == [], (
        "the map names folders that do not exist"
    )
