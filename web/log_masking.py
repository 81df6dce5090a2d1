"""Secrets in URLs never reach the logs: tracking codes, receipt and verification tokens,
email-confirmation and password-reset tokens, download signatures, OAuth codes.

A tracking code or a reset token in an access log lets anyone who reads the logs (an
operator, a log shipper, a backup) follow a citizen's case or take over an account. The
access log (gunicorn, :class:`MaskingGunicornLogger`) and the application's error log
(:func:`install_log_masking`) both pass every line through :func:`mask_secrets`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

MASK = "***"
#: Path segments that are secrets: /track/<code>, /api/v1/track/<code>/receipt,
#: /api/v1/citizen/cases/<code>, /api/v1/protocol/receipts/<token>, /verify/<code>.
_PATH_SECRET = re.compile(r"(/(?:track|citizen/cases|protocol/receipts|verify)/)([^/?#\s\"']+)")
#: Query parameters that are secrets.
_QUERY_SECRET = re.compile(
    r"([?&](?:token|sig|code|state|password|secret|access_token|id_token)=)([^&#\s\"']+)",
    re.IGNORECASE,
)


def mask_secrets(text: str) -> str:
    """``text`` with every secret path segment and query value replaced by ``***``."""
    return _QUERY_SECRET.sub(rf"\g<1>{MASK}", _PATH_SECRET.sub(rf"\g<1>{MASK}", text))


class MaskSecretsFilter(logging.Filter):
    """Rewrites each record's message (and traceback text) with the secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the formatter
            return True
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_secrets(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        return True


_FILTER = MaskSecretsFilter()


def install_log_masking(*loggers: logging.Logger) -> None:
    """Mask secrets in records of ``loggers`` and in everything the root handlers write."""
    for logger in (*loggers, logging.getLogger()):
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


class MaskingGunicornLogger(GunicornLogger):  # type: ignore[misc]
    """gunicorn's logger with the secrets masked in its access and error lines
    (``--logger-class web.log_masking.MaskingGunicornLogger``)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.addFilter(_FILTER)
            for handler in logger.handlers:
                handler.addFilter(_FILTER)
