"""Absolute links in answers, built from POLIS_BASE_URL, never from the request's Host header.

A link in an answer ends up in emails and QR codes; taken from ``Host`` (what
``url_for(..., _external=True)`` does) anyone could make Polis hand out links to their own
server (link poisoning).
"""

from __future__ import annotations

from typing import Any

from flask import url_for

from web.context import services


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute public address of ``endpoint`` with ``values``."""
    base = services().settings.public_base_url.rstrip("/")
    return base + url_for(endpoint, **values)
