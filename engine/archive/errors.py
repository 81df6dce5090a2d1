"""Errors of the case-file export; ``web/errors.py`` maps them to HTTP by their base class."""

from __future__ import annotations

from core.errors import NotFound, PermissionDenied


class CaseFileNotFound(NotFound):
    """No such case or document, or the caller may not know of it."""

    code = "case_file_not_found"


class CaseFileRestricted(PermissionDenied):
    """The caller may not read this case or document, so may not export it."""

    code = "case_file_restricted"
