"""The one check for where a ``next`` parameter may send the reader: a path on this site.

An open redirect lends our address to phishing links. Browsers drop tabs and newlines from
URLs and read a backslash as a slash, so ``/\\t/evil.example`` and ``/\\evil.example`` both
become ``//evil.example`` (another site): any control character or backslash is refused,
as is anything with a scheme or a host.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None, fallback: str) -> str:
    """``target`` if it is a plain path on this site, else ``fallback``."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target
