"""The texts of notifications: Greek and English emails (text + HTML) and SMS.

Templates live in ``engine/notifications/templates/<key>.<locale>.jinja``, one file per
message and language, with the blocks ``subject``, ``text``, ``html`` and ``sms``. The
values come from cases and people and are data only: the environment is sandboxed, the
HTML is autoescaped, and a missing value fails at enqueue time rather than sending a hole.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from core.errors import InvalidInput

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_KEYS = (
    "request_received",
    "document_requested",
    "certificate_issued",
    "request_rejected",
    "email_verification",
    "password_reset",
    "account_exists",
    "sms_reply",
    "request_answered",
    "submission_confirmation",
    "staff_password_reset",
)
_COMMON = ("applicant_name", "case_number", "service_title", "tracking_url", "municipality_name")
REQUIRED_VALUES: dict[str, tuple[str, ...]] = {
    "request_received": (*_COMMON, "tracking_code"),
    "document_requested": (*_COMMON, "document"),
    "certificate_issued": _COMMON,
    "request_rejected": (*_COMMON, "reason"),
    "email_verification": ("applicant_name", "verification_url", "municipality_name"),
    # A link to set a new password: asked for, or sent when someone signs up with a taken address.
    "password_reset": ("applicant_name", "reset_url", "municipality_name"),
    "account_exists": ("applicant_name", "reset_url", "municipality_name"),
    # The answer to an inbound SMS command (status line, receipt or help), written by the caller.
    "sms_reply": ("text", "municipality_name"),
    # A general request's answer (general_request.bpmn, handler send_reply).
    "request_answered": (*_COMMON, "reply"),
    # The one-time link that turns a held anonymous submission into a request (requests/pending.py).
    "submission_confirmation": (
        "applicant_name",
        "service_title",
        "confirmation_url",
        "expires",
        "municipality_name",
    ),
    # An administrator sent a member of staff a link to set their password (engine.people.staff_reset).
    "staff_password_reset": ("staff_name", "reset_url", "municipality_name"),
}
OPTIONAL_VALUES = (
    "protocol_number",
    "answer_protocol_number",
    "expected_by",
    "reply_by",
    "verification_url",
    "tracking_code",
)

# GSM 03.38 basic character set (what fits 160 characters per SMS). It holds only the Greek
# capitals that differ from Latin ones; the others are sent as their Latin look-alikes.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€")
_GREEK_TO_GSM = str.maketrans("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX")
SMS_SINGLE = {"gsm7": 160, "ucs2": 70}
SMS_PART = {"gsm7": 153, "ucs2": 67}
#: Longest SMS we send: one message. Longer texts are transliterated, then shortened.
SMS_MAX_PARTS = 1


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready for the outbox."""

    subject: str | None
    text: str
    html: str | None


def _environment(autoescape: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


@lru_cache(maxsize=2)
def _env(autoescape: bool) -> SandboxedEnvironment:
    return _environment(autoescape)


def _block(template: jinja2.Template, name: str, values: Mapping[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(dict(values)))).strip()


def _values(key: str, locale: str, values: Mapping[str, Any]) -> dict[str, Any]:
    if key not in REQUIRED_VALUES:
        raise InvalidInput(f"Unknown notification {key!r}; known ones are {list(TEMPLATE_KEYS)}.")
    if locale not in ("el", "en"):
        raise InvalidInput(f"Notifications are written in el or en, not {locale!r}.")
    missing = [name for name in REQUIRED_VALUES[key] if values.get(name) in (None, "")]
    if missing:
        raise InvalidInput(f"Notification {key!r} needs values for {missing}.")
    merged = dict.fromkeys(OPTIONAL_VALUES)
    merged.update(values)
    merged["locale"] = locale
    return merged


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (no CR/LF: they would inject mail headers), at most ``limit`` chars."""
    return " ".join(text.split())[:limit]


def render_email(key: str, locale: str, values: Mapping[str, Any]) -> RenderedMessage:
    """Subject, plain text and HTML of email ``key`` in ``locale``."""
    merged = _values(key, locale, values)
    name = f"{key}.{locale}.jinja"
    try:
        text_template = _env(False).get_template(name)
        subject = one_line(_block(text_template, "subject", merged))
        text = _block(text_template, "text", merged) + "\n"
        html_template = _env(True).get_template(name)
        body = Markup(_block(html_template, "html", merged))  # noqa: S704 - autoescaped above
        footer = (
            "Automatic message, please do not reply."
            if locale == "en"
            else "Αυτόματο μήνυμα, παρακαλούμε μην απαντάτε."
        )
        html = (
            _env(True)
            .get_template("_email.html")
            .render(merged | {"subject": subject, "body": body, "footer": footer})
        )
    except jinja2.TemplateError as exc:
        raise InvalidInput(f"Notification {key!r} ({locale}) cannot be written: {exc}.") from exc
    return RenderedMessage(subject=subject, text=text, html=html)


def sms_encoding(text: str) -> str:
    """ "gsm7" if ``text`` fits the GSM 7-bit alphabet, else "ucs2" (70 characters per SMS)."""
    return "gsm7" if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text) else "ucs2"


def sms_length(text: str) -> int:
    """Length in SMS character units (extended GSM characters count twice)."""
    if sms_encoding(text) == "gsm7":
        return sum(2 if char in GSM7_EXTENDED else 1 for char in text)
    # UCS-2 counts UTF-16 code units: characters outside the BMP (emoji) take two.
    return len(text.encode("utf-16-le")) // 2


def sms_parts(text: str) -> int:
    """How many SMS ``text`` takes."""
    encoding, length = sms_encoding(text), sms_length(text)
    if length <= SMS_SINGLE[encoding]:
        return 1
    return -(-length // SMS_PART[encoding])


def _gsm_greek_char(char: str) -> str:
    if "GREEK" not in unicodedata.name(char, ""):
        return char
    base = unicodedata.normalize("NFD", char.upper())[0]  # drop tonos and dialytika
    return base.translate(_GREEK_TO_GSM)


def to_gsm_greek(text: str) -> str:
    """Greek as Greek phones have long shown it in SMS: capitals without accents, GSM alphabet.

    Only Greek letters change: Latin text such as a tracking link keeps its case.
    """
    converted = "".join(_gsm_greek_char(char) for char in text)
    return "".join(char if char in GSM7_BASIC or char in GSM7_EXTENDED else "?" for char in converted)


def fit_sms(text: str) -> str:
    """``text`` made to fit one SMS: as is, else in GSM capitals, else shortened with "..."."""
    text = " ".join(text.split())
    if sms_parts(text) <= SMS_MAX_PARTS:
        return text
    text = to_gsm_greek(text)
    limit = SMS_SINGLE["gsm7"]
    if sms_length(text) <= limit:
        return text
    text = text[:limit]
    while sms_length(text) + 3 > limit:
        text = text[:-1]
    return text.rstrip() + "..."


def render_sms(key: str, locale: str, values: Mapping[str, Any]) -> str:
    """The SMS text of ``key`` in ``locale``, fitted to one message."""
    merged = _values(key, locale, values)
    try:
        template = _env(False).get_template(f"{key}.{locale}.jinja")
        return fit_sms(_block(template, "sms", merged))
    except jinja2.TemplateError as exc:
        raise InvalidInput(f"SMS {key!r} ({locale}) cannot be written: {exc}.") from exc
