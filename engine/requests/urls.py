"""Public addresses of a case, for notifications and API answers."""

from __future__ import annotations

from core.settings import Settings


def tracking_url(settings: Settings, tracking_code: str) -> str:
    """The citizen's tracking page of a case (the code is the only key to it)."""
    return f"{settings.public_base_url.rstrip('/')}/track/{tracking_code}"
