"""Server-side checks of a submission: form data, cross-field rules and attachments."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from jsonschema import ValidationError

from forms.services import AttachmentInfo, Service
from forms.submission_errors import FieldError, translate_schema_error

#: File types by the names people know them.
FILE_KINDS = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
}


def filename_problem(name: str) -> bool:
    """Whether ``name`` is not a bare, printable file name (folders, control characters...)."""
    return (
        not name.strip()
        or len(name) > 255
        or PurePosixPath(name).name != name
        or PureWindowsPath(name).name != name
        or name in (".", "..")
        or any(unicodedata.category(char).startswith("C") for char in name)
    )


def _attachment_errors(service: Service, attachments: Sequence[AttachmentInfo]) -> list[FieldError]:
    errors: list[FieldError] = []
    counts: dict[str, int] = {}
    for index, info in enumerate(attachments):
        where = f"attachments[{index}]"
        spec = service.attachment(info.key)
        if spec is None:
            known = ", ".join(s.key for s in service.attachments) or "—"
            errors.append(
                FieldError(
                    where,
                    f"Άγνωστο είδος συνημμένου {info.key[:64]!r}· επιτρέπονται: {known}.",
                    f"Unknown attachment kind {info.key[:64]!r}; allowed: {known}.",
                )
            )
            continue
        counts[spec.key] = counts.get(spec.key, 0) + 1
        label = spec.label
        if filename_problem(info.filename):
            errors.append(
                FieldError(
                    where,
                    f"{label.el}: μη αποδεκτό όνομα αρχείου· στείλτε μόνο το όνομα, χωρίς φάκελο.",
                    f"{label.en}: unacceptable file name; send the bare name, without folders.",
                )
            )
        if info.content_type not in spec.mime_types:
            # People know files as PDF or JPEG, not by MIME type; the type found stays for support.
            allowed = ", ".join(FILE_KINDS.get(kind, kind) for kind in spec.mime_types)
            unknown = info.content_type == "application/octet-stream"
            found = FILE_KINDS.get(info.content_type, info.content_type[:64])
            errors.append(
                FieldError(
                    where,
                    f"{label.el}: αυτό το είδος αρχείου ({'άγνωστο' if unknown else found}) δεν "
                    f"γίνεται δεκτό· στείλτε {allowed}.",
                    f"{label.en}: this kind of file ({'unknown' if unknown else found}) is not "
                    f"accepted; send {allowed}.",
                )
            )
        if info.size <= 0 or info.size > spec.max_bytes:
            limit = f"{spec.max_bytes / 1048576:g} MB"
            errors.append(
                FieldError(
                    where,
                    f"{label.el}: το αρχείο είναι κενό ή μεγαλύτερο από {limit}.",
                    f"{label.en}: the file is empty or larger than {limit}.",
                )
            )
    for spec in service.attachments:
        count = counts.get(spec.key, 0)
        if spec.required and count == 0:
            errors.append(
                FieldError(
                    f"attachments.{spec.key}",
                    f"{spec.label.el}: υποχρεωτικό συνημμένο· επισυνάψτε το.",
                    f"{spec.label.en}: required attachment; please attach it.",
                )
            )
        if count > spec.max_files:
            errors.append(
                FieldError(
                    f"attachments.{spec.key}",
                    f"{spec.label.el}: έως {spec.max_files} αρχεία.",
                    f"{spec.label.en}: at most {spec.max_files} files.",
                )
            )
    return errors


def _rule_errors(service: Service, data: Mapping[str, Any]) -> list[FieldError]:
    errors = []
    for rule in service.rules:
        # Both values are valid ISO dates when present: the schema's "date" format ran first.
        if (
            rule.rule == "not_before"
            and data.get(rule.field)
            and data.get(rule.other)
            and date.fromisoformat(data[rule.field]) < date.fromisoformat(data[rule.other])
        ):
            errors.append(
                FieldError(
                    rule.field,
                    f"{service.field_label(rule.field, 'el')}: δεν μπορεί να είναι πριν από "
                    f"«{service.field_label(rule.other, 'el')}».",
                    f"{service.field_label(rule.field, 'en')}: cannot be before "
                    f"\u201c{service.field_label(rule.other, 'en')}\u201d.",
                )
            )
    return errors


def _attachment_info(meta: AttachmentInfo | Mapping[str, Any]) -> AttachmentInfo:
    if isinstance(meta, AttachmentInfo):
        return meta
    try:
        return AttachmentInfo(
            key=str(meta["key"]),
            filename=str(meta["filename"]),
            content_type=str(meta["content_type"]),
            size=int(meta["size"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TypeError(f"attachment metadata needs key, filename, content_type, size: {exc}") from exc


def check_submission(
    service: Service, data: Any, attachments_meta: Sequence[AttachmentInfo | Mapping[str, Any]] = ()
) -> list[FieldError]:
    """Every problem with a submission of ``service`` (empty list = acceptable)."""
    if not isinstance(data, Mapping):
        return [
            FieldError("", "Τα στοιχεία της αίτησης λείπουν.", "The form data is missing or not an object.")
        ]
    errors: list[FieldError] = []
    validation_errors: list[ValidationError] = sorted(
        service.validator.iter_errors(dict(data)), key=lambda e: list(map(str, e.absolute_path))
    )
    for error in validation_errors:
        for item in translate_schema_error(service, error):
            if item not in errors:
                errors.append(item)
    if not errors:
        errors.extend(_rule_errors(service, data))
    errors.extend(_attachment_errors(service, [_attachment_info(meta) for meta in attachments_meta]))
    return errors
