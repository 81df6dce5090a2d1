"""The document-flow town (protocol office, units with heads and clerks) for case-file tests."""

from __future__ import annotations

from tests.documents.conftest import town

__all__ = ["town"]
