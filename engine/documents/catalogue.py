"""The data the document flow reads: document types with their deadlines, and the file plan.

Both are JSON files under ``processes/`` (``document_types.json``, ``file_plan.json``),
checked when first read: a malformed file is a ConfigurationError naming the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.errors import ConfigurationError

PROCESSES_DIR = Path(__file__).resolve().parents[2] / "processes"
DOCUMENT_TYPES_FILE = PROCESSES_DIR / "document_types.json"
FILE_PLAN_FILE = PROCESSES_DIR / "file_plan.json"


@dataclass(frozen=True)
class DocumentType:
    """A kind of incoming document and its handling deadline in working days."""

    code: str
    el: str
    en: str
    deadline_working_days: int

    def name(self, locale: str) -> str:
        """The name in ``locale`` (Greek unless English is asked for)."""
        return self.en if locale == "en" else self.el


@dataclass(frozen=True)
class FilePlanSubject:
    """A subject of the file plan (θεματολόγιο)."""

    code: str
    el: str
    en: str

    def name(self, locale: str) -> str:
        """The name in ``locale``."""
        return self.en if locale == "en" else self.el


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}; fix the JSON file.") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path} must hold an object of codes.")
    return {code: value for code, value in raw.items() if not code.startswith("_")}


@lru_cache(maxsize=2)
def document_types(path: Path = DOCUMENT_TYPES_FILE) -> dict[str, DocumentType]:
    """The document types by code, in file order."""
    types: dict[str, DocumentType] = {}
    for code, value in _read(path).items():
        days = value.get("deadline_working_days") if isinstance(value, dict) else None
        if not isinstance(days, int) or days < 1 or not value.get("el") or not value.get("en"):
            raise ConfigurationError(
                f'document type "{code}" in {path} needs "el", "en" and "deadline_working_days" (≥ 1).'
            )
        types[code] = DocumentType(code, value["el"], value["en"], days)
    return types


@lru_cache(maxsize=2)
def file_plan(path: Path = FILE_PLAN_FILE) -> dict[str, FilePlanSubject]:
    """The file-plan subjects by code, in file order."""
    subjects: dict[str, FilePlanSubject] = {}
    for code, value in _read(path).items():
        if not isinstance(value, dict) or not value.get("el") or not value.get("en"):
            raise ConfigurationError(f'file-plan subject "{code}" in {path} needs "el" and "en".')
        subjects[code] = FilePlanSubject(code, value["el"], value["en"])
    return subjects
