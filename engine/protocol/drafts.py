"""What a caller asks to register, checked completely before any number is taken."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from engine.protocol.errors import InvalidEntry
from engine.protocol.models import GENERAL_REGISTRY_CODE, Classification, DeliveryMethod, Direction

GENERAL_REGISTRY = GENERAL_REGISTRY_CODE

_Choice = TypeVar("_Choice", DeliveryMethod, Classification)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DIRECTION_ALIASES = {
    "ΕΙΣ": Direction.INCOMING,
    "INCOMING": Direction.INCOMING,
    "IN": Direction.INCOMING,
    "ΕΞ": Direction.OUTGOING,
    "OUTGOING": Direction.OUTGOING,
    "OUT": Direction.OUTGOING,
    "ΕΣΩ": Direction.INTERNAL,
    "INTERNAL": Direction.INTERNAL,
}


@dataclass(frozen=True)
class FileRef:
    """A file already put into the object store, with the SHA-256 of its bytes."""

    storage_key: str
    sha256: str
    filename: str
    size: int
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class EntryDraft:
    """A valid registration request (build it with :func:`draft_from_mapping` or directly)."""

    direction: Direction
    subject: str
    registry: str = GENERAL_REGISTRY
    sender: str | None = None
    sender_reference: str | None = None
    sender_date: date | None = None
    recipients: tuple[str, ...] = ()
    copies: tuple[str, ...] = ()
    attachments_count: int = 0
    attachments_description: str | None = None
    delivery_method: DeliveryMethod | None = None
    document_type: str | None = None
    classification: Classification | None = None
    related: tuple[uuid.UUID, ...] = ()
    files: tuple[FileRef, ...] = ()
    case_id: uuid.UUID | None = None
    case_number: str | None = None
    #: Codes of the departments the document is assigned to (χρέωση); they see its contents.
    assign_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse an inconsistent draft however it was built (plain strings become enums)."""
        problems: dict[str, str] = {}
        # Callers may pass "ΠΔ" rather than Classification.PERSONAL_DATA: accept, but check.
        object.__setattr__(self, "direction", parse_direction(self.direction))
        for name, kind in (("classification", Classification), ("delivery_method", DeliveryMethod)):
            object.__setattr__(self, name, _choice(getattr(self, name), kind, name, problems))
        problems.update(_check_consistency(self))
        if problems:
            raise InvalidEntry(_summary(problems), fields=problems)


#: Longest text of each field, in characters. An entry is immutable forever: a 1 MB
#: subject or 10,000 recipients would be permanent junk in the register.
TEXT_LIMITS = {
    "subject": 1000,
    "registry": 32,
    "sender": 500,
    "sender_reference": 200,
    "attachments_description": 2000,
    "document_type": 200,
    "case_number": 64,
}
#: Most names in ``recipients`` and in ``copies``, and the longest name.
MAX_PARTIES = 200
MAX_PARTY_LENGTH = 500
MAX_FILES = 100
MAX_RELATED = 100
MAX_ATTACHMENTS_COUNT = 10_000
MAX_FILENAME_LENGTH = 255
MAX_STORAGE_KEY_LENGTH = 1024


def _check_sizes(draft: EntryDraft) -> dict[str, str]:
    """Every field within its limit, and no NUL character in any text."""
    problems: dict[str, str] = {}
    for name, most in TEXT_LIMITS.items():
        value = getattr(draft, name)
        if isinstance(value, str) and len(value) > most:
            problems[name] = f"At most {most} characters ({len(value)} given); shorten it."
        elif isinstance(value, str) and "\x00" in value:
            problems[name] = "Remove the NUL character (\\u0000)."
    for name in ("recipients", "copies"):
        names = getattr(draft, name)
        if len(names) > MAX_PARTIES:
            problems[name] = f"At most {MAX_PARTIES} names ({len(names)} given)."
        elif any(len(item) > MAX_PARTY_LENGTH for item in names):
            problems[name] = f"Each name may have at most {MAX_PARTY_LENGTH} characters."
        elif any("\x00" in item for item in names):
            problems[name] = "Remove the NUL character (\\u0000)."
    if len(draft.files) > MAX_FILES:
        problems["files"] = f"At most {MAX_FILES} files per entry."
    if len(draft.related) > MAX_RELATED:
        problems["related"] = f"At most {MAX_RELATED} related entries."
    if draft.attachments_count > MAX_ATTACHMENTS_COUNT:
        problems["attachments_count"] = f"At most {MAX_ATTACHMENTS_COUNT} attachments."
    for index, ref in enumerate(draft.files):
        if len(ref.filename) > MAX_FILENAME_LENGTH or len(ref.storage_key) > MAX_STORAGE_KEY_LENGTH:
            problems[f"files[{index}]"] = (
                f"filename at most {MAX_FILENAME_LENGTH}, storage_key at most "
                f"{MAX_STORAGE_KEY_LENGTH} characters."
            )
    return problems


def _check_consistency(draft: EntryDraft) -> dict[str, str]:
    """Rules that span fields; each problem names the field and the fix."""
    problems: dict[str, str] = _check_sizes(draft)
    if not draft.subject.strip():
        problems["subject"] = "The subject is empty: write what the document is about."
    if draft.sender_reference and draft.sender_date is None:
        problems["sender_date"] = (
            "A sender's reference number needs the date it bears: give sender_date (YYYY-MM-DD)."
        )
    if draft.direction is Direction.INCOMING and not (draft.sender or "").strip():
        problems["sender"] = "An incoming document needs its sender: give sender."
    if draft.attachments_count < 0:
        problems["attachments_count"] = "The number of attachments cannot be negative."
    for index, ref in enumerate(draft.files):
        if not _SHA256.match(ref.sha256):
            problems[f"files[{index}].sha256"] = "Give the SHA-256 as 64 lowercase hex digits."
        if ref.size < 0 or not ref.storage_key or not ref.filename:
            problems[f"files[{index}]"] = "Each file needs storage_key, filename and size >= 0."
    return problems


def _summary(problems: Mapping[str, str]) -> str:
    """One readable message out of several field problems."""
    return " ".join(f"{name}: {text}" for name, text in problems.items())


def parse_direction(value: object) -> Direction:
    """Accept ΕΙΣ/ΕΞ/ΕΣΩ or incoming/outgoing/internal."""
    direction = _DIRECTION_ALIASES.get(str(value).strip().upper()) if value else None
    if direction is None:
        raise InvalidEntry(
            "direction: give one of ΕΙΣ (incoming), ΕΞ (outgoing), ΕΣΩ (internal).",
            fields={"direction": "missing or unknown"},
        )
    return direction


def draft_from_mapping(data: Mapping[str, Any]) -> EntryDraft:
    """Build a draft out of JSON-like data, collecting every problem into one error."""
    problems: dict[str, str] = {}

    def text(name: str, required: bool = False) -> str | None:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                problems[name] = f"{name} is required."
            return None
        if not isinstance(value, str):
            problems[name] = f"{name} must be text."
            return None
        return value.strip()

    def text_list(name: str) -> tuple[str, ...]:
        value = data.get(name) or []
        if isinstance(value, str) or not isinstance(value, Sequence):
            problems[name] = f"{name} must be a list of names."
            return ()
        return tuple(str(item).strip() for item in value if str(item).strip())

    direction: Direction | None = None
    try:
        direction = parse_direction(data.get("direction"))
    except InvalidEntry as exc:
        problems["direction"] = exc.message
    subject = text("subject", required=True)
    sender_date = _date(data.get("sender_date"), "sender_date", problems)
    delivery = _choice(data.get("delivery_method"), DeliveryMethod, "delivery_method", problems)
    classification = _choice(data.get("classification"), Classification, "classification", problems)
    related = _uuids(data.get("related") or [], "related", problems)
    case_ids = _uuids([data["case_id"]] if data.get("case_id") else [], "case_id", problems)
    files = _files(data.get("files") or [], problems)
    count = data.get("attachments_count") or 0
    if not isinstance(count, int) or isinstance(count, bool):
        problems["attachments_count"] = "attachments_count must be a whole number."
        count = 0
    fields = {
        "registry": text("registry") or GENERAL_REGISTRY,
        "sender": text("sender"),
        "sender_reference": text("sender_reference"),
        "recipients": text_list("recipients"),
        "copies": text_list("copies"),
        "attachments_description": text("attachments_description"),
        "document_type": text("document_type"),
        "case_number": text("case_number"),
        "assign_to": text_list("assign_to"),
    }
    if problems or direction is None or subject is None:
        raise InvalidEntry(_summary(problems), fields=problems)
    return EntryDraft(
        direction=direction,
        subject=subject,
        sender_date=sender_date,
        delivery_method=delivery,
        classification=classification,
        related=related,
        files=files,
        case_id=case_ids[0] if case_ids else None,
        attachments_count=count,
        **fields,  # type: ignore[arg-type]
    )


def _date(value: object, name: str, problems: dict[str, str]) -> date | None:
    """An ISO date, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems[name] = f"{name} must be a date written YYYY-MM-DD."
        return None


def _choice(value: object, kind: type[_Choice], name: str, problems: dict[str, str]) -> _Choice | None:
    """One of an enum's values, or None."""
    if value is None or value == "":
        return None
    try:
        return kind(str(value).strip())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        problems[name] = f"{name} must be one of: {allowed}."
        return None


def _uuids(values: object, name: str, problems: dict[str, str]) -> tuple[uuid.UUID, ...]:
    """A list of entry ids."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        problems[name] = f"{name} must be a list of ids."
        return ()
    try:
        return tuple(v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)) for v in values)
    except ValueError:
        problems[name] = f"{name} must hold ids like 0f8fad5b-d9cb-469f-a165-70867728950e."
        return ()


def _files(values: object, problems: dict[str, str]) -> tuple[FileRef, ...]:
    """File references: storage_key, sha256, filename, size, content_type."""
    if not isinstance(values, Sequence) or isinstance(values, str):
        problems["files"] = "files must be a list of stored objects."
        return ()
    refs = []
    for index, item in enumerate(values):
        try:
            refs.append(
                FileRef(
                    storage_key=str(item["storage_key"]),
                    sha256=str(item["sha256"]).lower(),
                    filename=str(item["filename"]),
                    size=int(item["size"]),
                    content_type=str(item.get("content_type") or "application/octet-stream"),
                )
            )
        except (KeyError, TypeError, ValueError):
            problems[f"files[{index}]"] = (
                "Each file needs storage_key, sha256, filename and size (a whole number)."
            )
    return tuple(refs)
