"""Where a ``next`` parameter may send the reader: only to a path on this site.

An open redirect would lend the municipality's address to phishing links. Browsers drop
tabs and newlines from URLs and read a backslash as a slash, so ``/\t/evil.example`` and
``/\\evil.example`` mean ``//evil.example``: a target is judged after the browser's own
clean-up, and anything but a local path falls back to ``default``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: What browsers strip from anywhere in a URL before they follow it (WHATWG URL standard).
_STRIPPED = dict.fromkeys(map(ord, "\t\n\r"))


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default``."""
    if not target:
        return default
    seen = target.translate(_STRIPPED).replace("\\", "/")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in seen):
        return default
    parts = urlsplit(seen)
    if not seen.startswith("/") or seen.startswith("//") or parts.scheme or parts.netloc:
        return default
    return target
