"""The Greek message catalogue holds each message once (merged branches left two translations of
one msgid, and the compiler kept whichever came first, silently)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

CATALOGUE = (
    Path(__file__).resolve().parents[2] / "web" / "translations" / "el" / "LC_MESSAGES" / "messages.po"
)


def _msgids(text: str) -> list[str]:
    """Every msgid (with its msgctxt, if any), its continuation lines joined."""
    found: list[str] = []
    current: list[str] | None = None
    context = ""
    for line in [*text.splitlines(), ""]:
        if line.startswith("msgctxt "):
            context = line[len("msgctxt ") :]
        elif line.startswith("msgid "):
            current = [line[len("msgid ") :]]
        elif current is not None and line.startswith('"'):
            current.append(line)
        elif current is not None:
            found.append(context + "\x04" + "".join(current))
            current, context = None, ""
    return found


def test_every_message_is_translated_once() -> None:
    counts = Counter(_msgids(CATALOGUE.read_text(encoding="utf-8")))
    twice = sorted(msgid.split("\x04", 1)[1] for msgid, n in counts.items() if n > 1 and msgid != '\x04""')
    assert twice == []
