"""``next`` parameters send the reader only to a path on this site (no open redirect)."""

from __future__ import annotations

from typing import Any

import pytest

from web.redirects import safe_next

OUTSIDE = [
    "//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/\x00/evil.example",
]


@pytest.mark.parametrize("target", OUTSIDE)
def test_targets_outside_the_site_fall_back(target: str) -> None:
    assert safe_next(target, "/home") == "/home"


@pytest.mark.parametrize("target", ["/", "/work?view=mine&page=2", "/track/ABC#steps", "/lang/en"])
def test_local_paths_are_kept(target: str) -> None:
    assert safe_next(target, "/home") == target


@pytest.mark.parametrize("query", ["/%09/evil.example", "//evil.example", "/%5Cevil.example"])
def test_language_switch_stays_on_the_site(client: Any, query: str) -> None:
    response = client.get(f"/lang/en?next={query}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_language_switch_returns_to_the_page(client: Any) -> None:
    response = client.get("/lang/en?next=/track/ABC")
    assert response.headers["Location"] == "/track/ABC"
