"""Tracking codes and tokens never reach the logs (issue 13 item 8)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from web.log_masking import mask_secrets


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('"GET /track/AB12-CD34-EF56 HTTP/1.1" 200', "AB12-CD34-EF56"),
        ("GET /api/v1/track/AB12CD34/receipt", "AB12CD34"),
        ("GET /api/v1/citizen/cases/AB12CD34", "AB12CD34"),
        ("GET /api/v1/protocol/receipts/IjEyMyI.sig", "IjEyMyI.sig"),
        ("POST /api/v1/verify/VERIF-CODE", "VERIF-CODE"),
        ("GET /citizen/reset?token=eyJ.reset&lang=el", "eyJ.reset"),
        ("GET /citizen/verify?lang=el&token=eyJ.verify", "eyJ.verify"),
        ("GET /files/a/b?exp=1&sig=deadbeef", "deadbeef"),
        ("GET /citizen/oidc/callback?state=S1&code=C2", "C2"),
    ],
)
def test_secrets_are_masked(line: str, secret: str) -> None:
    masked = mask_secrets(line)
    assert secret not in masked and "***" in masked


def test_other_paths_stay_readable() -> None:
    assert mask_secrets("GET /api/v1/services/family_status?lang=el") == (
        "GET /api/v1/services/family_status?lang=el"
    )


def test_the_error_log_masks_the_tracking_code(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    def boom(code: str) -> str:
        raise RuntimeError(f"failed for {code}")

    app.add_url_rule("/track/<code>/boom", "boom", boom)
    with caplog.at_level(logging.ERROR):
        answer = app.test_client().get("/track/SECRET-CODE-123/boom?token=SECRET-TOKEN")
    assert answer.status_code == 500
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert "Unhandled error on GET /track/***/boom" in logged
    assert "/track/SECRET-CODE-123" not in caplog.text and "SECRET-TOKEN" not in caplog.text
