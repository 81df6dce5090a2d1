"""Lane → role mapping: configuration (processes/lanes.json), not code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import ConfigurationError

LANES_FILE = Path(__file__).resolve().parents[2] / "processes" / "lanes.json"
ASSIGNEE_RULES = ("department_head", "department_substitute")


@dataclass(frozen=True)
class LaneRule:
    """Who works on tasks of one lane: a role in the case's department, maybe pre-assigned."""

    role: str
    assignee: str | None = None


@lru_cache(maxsize=4)
def lane_rules(path: Path = LANES_FILE) -> dict[str, LaneRule]:
    """Read the lane configuration once; a malformed file is a ConfigurationError."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot read the lane configuration {path}: {exc}; fix the JSON file."
        ) from None
    rules: dict[str, LaneRule] = {}
    for lane, rule in raw.items():
        if lane.startswith("_"):
            continue
        if not isinstance(rule, dict) or not isinstance(rule.get("role"), str):
            raise ConfigurationError(f'lane "{lane}" in {path} needs a "role", e.g. {{"role": "clerk"}}.')
        assignee = rule.get("assignee")
        if assignee is not None and assignee not in ASSIGNEE_RULES:
            raise ConfigurationError(
                f'lane "{lane}" in {path}: assignee must be one of {", ".join(ASSIGNEE_RULES)}.'
            )
        rules[lane] = LaneRule(role=rule["role"], assignee=assignee)
    return rules
