"""Greek identifiers — ΑΦΜ, ΑΜΚΑ, phone numbers — and the JSON Schema formats that check them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from jsonschema import FormatChecker

_AFM = re.compile(r"^[0-9]{9}$")
_AMKA = re.compile(r"^[0-9]{11}$")
_PHONE = re.compile(r"^(?:\+30|0030)?(?:69[0-9]{8}|2[0-9]{9})$")


def is_valid_afm(value: str) -> bool:
    """Whether ``value`` is a 9-digit ΑΦΜ whose last digit is its check digit."""
    if not _AFM.match(value) or value == "000000000":
        return False
    total = sum(int(digit) << (8 - position) for position, digit in enumerate(value[:8]))
    return (total % 11) % 10 == int(value[8])


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def is_valid_amka(value: str) -> bool:
    """Whether ``value`` is an 11-digit ΑΜΚΑ: a DDMMYY birth date then a Luhn check digit."""
    if not _AMKA.match(value):
        return False
    day, month, year = int(value[0:2]), int(value[2:4]), int(value[4:6])
    try:
        # The century is not encoded; 2000 is a leap year, so 29 February always passes.
        date(2000 + year, month, day)
    except ValueError:
        return False
    return _luhn_ok(value)


def normalise_phone(value: str) -> str:
    """``value`` without spaces, dashes, dots or brackets (the digits and a leading +)."""
    return re.sub(r"[\s\-.()]", "", value)


def is_valid_greek_phone(value: str) -> bool:
    """Whether ``value`` is a Greek mobile (69…) or landline (2…) number, +30 optional."""
    return bool(_PHONE.match(normalise_phone(value)))


def _strings_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    # JSON Schema formats apply to strings only; other types are the "type" keyword's business.
    def checker(instance: object) -> bool:
        return not isinstance(instance, str) or check(instance)

    return checker


def make_format_checker() -> FormatChecker:
    """The standard JSON Schema format checker plus "afm", "amka" and "gr-phone"."""
    checker = FormatChecker()
    checker.checks("afm")(_strings_only(is_valid_afm))
    checker.checks("amka")(_strings_only(is_valid_amka))
    checker.checks("gr-phone")(_strings_only(is_valid_greek_phone))
    return checker
