"""Fixtures for the citizen API: the demo municipality with its processes, a webhook secret."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from core.settings import Settings
from tests.requests.conftest import municipality as _municipality

SMS_SECRET = "sms-webhook-secret-for-tests"
_addresses = itertools.count(1)

municipality = _municipality


@pytest.fixture
def test_settings(test_settings: Settings) -> Settings:
    """The common test settings plus the SMS webhook's shared secret."""
    return test_settings.model_copy(update={"sms_inbound_secret": SecretStr(SMS_SECRET)})


@pytest.fixture
def citizen_client(app: Any, municipality: Session) -> Any:
    """A test client with an address of its own (the rate limiters count per address)."""
    return client_from(app, f"10.9.{next(_addresses) // 250 % 250}.{next(_addresses) % 250}")


def client_from(app: Any, address: str) -> Any:
    """A test client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client
