"""The SMS channel (as in Chania): requests and status questions by text message.

Commands (DOMAIN.md), keywords in Greek or Latin letters, any case, accents ignored:

- ``ΔΥ ΧΑ <text>`` (also ``DY XA``, ``δυ χα``…): opens a general request with the text;
  the "request received" SMS (case number, tracking code) is the answer.
- ``ΔΥ ΧΑ1 <tracking code or case number>``: the status line of that case, if it was
  submitted with the sender's phone number.
- anything else: a help SMS with both commands.

Every answer is an outbox notification (channel sms) in the caller's transaction.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.settings import Settings
from engine.notifications.models import Notification
from engine.notifications.outbox import enqueue_notification
from engine.people.applicants.models import Applicant
from engine.requests.scanning import Scanner
from engine.requests.submission import ApplicantInfo, submit_request
from engine.requests.tracking import CODE_PATTERN, tracking_of, tracking_sms_text
from engine.workflow.models import Case
from forms.greek_ids import is_valid_greek_phone, normalise_phone
from storage import ObjectStore

SERVICE_CODE = "general_request"
#: Longest request text kept from one SMS (the form allows 2000; concatenated SMS rarely exceed it).
MAX_TEXT = 2000
_GREEK_KEYWORD_LETTERS = str.maketrans({"Δ": "D", "Υ": "Y", "Χ": "X", "Α": "A"})
# D-Y (or the DI/DU some phones produce) X-A (or CHA/HA), then "1" for the status query.
_COMMAND = re.compile(r"\s*D[YUI]\s*(?:X|CH|H)A(1?)(?=\s|$)\s*")
_CASE_NUMBER = re.compile(r"^[0-9]{4}/[0-9]{1,10}$")

# Greek answers stay under 70 characters: one UCS-2 SMS, still in lower case with accents.
HELP = {
    "el": "ΔΥ ΧΑ <κείμενο>: νέο αίτημα. ΔΥ ΧΑ1 <αριθμός>: πορεία αιτήματος.",
    "en": "Send DY XA <text> for a new request, or DY XA1 <request number> to see how it is going.",
}
NOT_FOUND = {
    "el": "Δεν βρέθηκε αίτημα με αυτόν τον αριθμό για το κινητό σας.",
    "en": "No request with this number was found for your phone. Check the number.",
}

Action = Literal["submitted", "status", "help"]


@dataclass(frozen=True)
class SmsCommand:
    """What an inbound text asks for: ``submit`` or ``status`` with its argument, or ``unknown``."""

    kind: Literal["submit", "status", "unknown"]
    argument: str
    locale: str


@dataclass(frozen=True)
class SmsOutcome:
    """What Polis did with an inbound SMS."""

    action: Action
    reply: str | None  # the text of the answer SMS queued (None: submit_request queued it)
    case_number: str | None = None
    tracking_code: str | None = None
    protocol_number: str | None = None
    notification_ids: tuple[uuid.UUID, ...] = ()
    replayed: bool = False


def _fold(char: str) -> str:
    """One character folded for keyword matching: no accent, capital, Greek look-alikes in Latin.

    Always exactly one character, so positions in the folded text are positions in the original.
    """
    base = unicodedata.normalize("NFD", char)[0]
    upper = base.upper()
    return (upper if len(upper) == 1 else base).translate(_GREEK_KEYWORD_LETTERS)


def _has_greek(text: str) -> bool:
    return any("GREEK" in unicodedata.name(char, "") for char in text)


def parse_command(text: str) -> SmsCommand:
    """Split an inbound text into its command and argument (the argument keeps its letters)."""
    folded = "".join(_fold(char) for char in text)
    locale = "el" if _has_greek(text) or not text.strip() else "en"
    match = _COMMAND.match(folded)
    if match is None:
        return SmsCommand("unknown", text.strip(), locale)
    argument = " ".join(text[match.end() :].split())
    keyword_greek = _has_greek(text[: match.end()])
    locale = "el" if keyword_greek or _has_greek(argument) else "en"
    return SmsCommand("status" if match.group(1) else "submit", argument, locale)


def national_number(phone: str) -> str:
    """A Greek number without its country code (+30 / 0030 / 30), digits only."""
    digits = re.sub(r"\D", "", normalise_phone(phone))
    for prefix in ("0030", "30"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 10:
            return digits[len(prefix) :]
    return digits


def _phone_forms(national: str) -> list[str]:
    return [national, f"+30{national}", f"0030{national}", f"30{national}"]


def _reply(
    session: Session, settings: Settings, sender: str, locale: str, text: str, case_id: uuid.UUID | None
) -> Notification:
    return enqueue_notification(
        session,
        channel="sms",
        recipient=sender,
        locale=locale,
        template_key="sms_reply",
        values={"text": text, "municipality_name": settings.municipality_name},
        case_id=case_id,
    )


def _find_case(session: Session, reference: str) -> Case | None:
    if _CASE_NUMBER.match(reference):
        return session.scalar(select(Case).where(Case.number == reference))
    if CODE_PATTERN.match(reference):
        return session.scalar(select(Case).where(Case.tracking_code == reference))
    return None


def _status(session: Session, settings: Settings, sender: str, command: SmsCommand) -> SmsOutcome:
    reference = command.argument.split(" ")[0] if command.argument else ""
    case = _find_case(session, reference) if reference else None
    phone = (case.applicant or {}).get("phone") if case is not None else None
    if case is None or not phone or national_number(str(phone)) != national_number(sender):
        # One answer for unknown numbers and other people's cases: nothing to probe.
        sent = _reply(session, settings, sender, command.locale, NOT_FOUND[command.locale], None)
        return SmsOutcome("status", sent.body_text, notification_ids=(sent.id,))
    locale = str((case.applicant or {}).get("locale") or command.locale)
    locale = locale if locale in ("el", "en") else "el"
    tracking = tracking_of(session, case)
    sent = _reply(session, settings, sender, locale, tracking_sms_text(tracking, locale), case.id)
    return SmsOutcome(
        "status",
        sent.body_text,
        case_number=case.number,
        protocol_number=tracking.protocol_number,
        notification_ids=(sent.id,),
    )


def _sender_account(session: Session, national: str) -> Applicant | None:
    found = list(
        session.scalars(select(Applicant).where(Applicant.phone.in_(_phone_forms(national))).limit(2))
    )
    # Two accounts on one phone: the SMS cannot say whose request it is, so it is nobody's.
    return found[0] if len(found) == 1 else None


def _submit(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    sender: str,
    command: SmsCommand,
    *,
    message_id: str | None,
    scanner: Scanner | None,
    now: datetime | None,
) -> SmsOutcome:
    national = national_number(sender)
    account = _sender_account(session, national)
    applicant = ApplicantInfo(
        name=account.full_name if account is not None else f"Αιτών μέσω SMS {national}",
        email=account.email if account is not None and account.email_verified_at else None,
        phone=national,
        channel="sms",
        locale=account.preferred_locale if account is not None else command.locale,
        applicant_id=account.id if account is not None else None,
    )
    submission = submit_request(
        session,
        store,
        service_code=SERVICE_CODE,
        form={"text": command.argument[:MAX_TEXT], "phone": national},
        attachments=[],
        applicant=applicant,
        # The prefix keeps short gateway ids within the 8-character minimum of a key.
        idempotency_key=f"sms-inbound:{message_id}" if message_id else None,
        source="sms",
        scanner=scanner,
        settings=settings,
        now=now,
    )
    return SmsOutcome(
        "submitted",
        None,  # the "request received" SMS that submit_request queued is the answer
        case_number=submission.case_number,
        tracking_code=submission.tracking_code,
        protocol_number=submission.protocol_number,
        replayed=submission.replayed,
    )


def handle_inbound_sms(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    *,
    sender: str,
    text: str,
    message_id: str | None = None,
    scanner: Scanner | None = None,
    now: datetime | None = None,
) -> SmsOutcome:
    """Carry out the command in an inbound SMS and queue the answer (see the module docstring)."""
    if not isinstance(sender, str) or not is_valid_greek_phone(sender):
        raise InvalidInput(
            f"The sender {str(sender)[:20]!r} is not a Greek phone number; the gateway must send "
            "the citizen's number (e.g. +306912345678) in 'from'."
        )
    if message_id is not None and not re.fullmatch(r"[\x21-\x7e]{1,200}", message_id):
        raise InvalidInput("'message_id' must be 1 to 200 visible ASCII characters (the gateway's id).")
    command = parse_command(text or "")
    if command.kind == "status" and command.argument:
        return _status(session, settings, sender, command)
    if command.kind == "submit" and len(command.argument) >= 2:
        return _submit(
            session, store, settings, sender, command, message_id=message_id, scanner=scanner, now=now
        )
    sent = _reply(session, settings, sender, command.locale, HELP[command.locale], None)
    return SmsOutcome("help", sent.body_text, notification_ids=(sent.id,))
