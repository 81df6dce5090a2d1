"""The client address behind the documented reverse proxy (POLIS_PROXY_COUNT)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import request

from core.settings import Settings
from web.app import create_app


@pytest.mark.parametrize(
    ("proxies", "seen"),
    [(0, "10.0.0.9"), (1, "203.0.113.7"), (2, "198.51.100.1")],
)
def test_client_address_follows_the_configured_proxies(
    test_settings: Settings, session_factory: Any, object_store: Any, proxies: int, seen: str
) -> None:
    app = create_app(
        test_settings.model_copy(update={"proxy_count": proxies}),
        session_factory=session_factory,
        store=object_store,
    )
    app.add_url_rule("/whoami", "whoami", lambda: str(request.remote_addr))
    answer = app.test_client().get(
        "/whoami",
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
        # The client forged the first address; each proxy appended the one it saw.
        headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.1, 203.0.113.7"},
    )
    assert answer.text == seen
