"""The notification settings are validated like every other setting."""

from __future__ import annotations

import pytest

from core.errors import ConfigurationError
from core.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("POLIS_") and not name.startswith("POLIS_TEST_"):
            monkeypatch.delenv(name)


def test_defaults_leave_notifications_in_the_outbox():
    settings = load_settings()
    assert settings.smtp_host is None
    assert settings.sms_gateway_url is None
    assert settings.smtp_starttls is True


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("POLIS_SMTP_FROM", "nobody", "POLIS_SMTP_FROM: must be an email address"),
        ("POLIS_SMS_GATEWAY_URL", "ftp://sms", "POLIS_SMS_GATEWAY_URL: must be an http"),
        ("POLIS_SMTP_PORT", "0", "POLIS_SMTP_PORT"),
        ("POLIS_NOTIFICATION_MAX_ATTEMPTS", "0", "POLIS_NOTIFICATION_MAX_ATTEMPTS"),
    ],
)
def test_bad_values_are_named(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert expected in error.value.message
    assert "Example: " + name + "=" in error.value.message


def test_greek_sender_name_is_accepted(monkeypatch):
    monkeypatch.setenv("POLIS_SMTP_FROM", "Δήμος Χανίων <noreply@chania.gr>")
    assert load_settings().smtp_from == "Δήμος Χανίων <noreply@chania.gr>"
