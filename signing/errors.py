"""Errors raised by the signing package.

Each class subclasses a ``core.errors`` base so that ``web/errors.py`` maps it to an HTTP
status by its base class. Messages say what went wrong and what to do next.
"""

from __future__ import annotations

from core.errors import ConfigurationError, InvalidInput, ServiceUnavailable


class UnreadablePdf(InvalidInput):
    """The bytes given are not a PDF we can read (not a PDF, truncated or malformed)."""

    code = "unreadable_pdf"


class EncryptedPdf(InvalidInput):
    """The PDF is encrypted; we sign and verify only unencrypted documents."""

    code = "encrypted_pdf"


class SignerConfigurationError(ConfigurationError):
    """The signer (key file, token, remote service credential) cannot be used as configured."""

    code = "signer_configuration"


class SignerCertificateError(ConfigurationError):
    """The signer's certificate is unfit to seal: expired, revoked or wrong key usage."""

    code = "signer_certificate_rejected"


class SignerUnavailable(ServiceUnavailable):
    """The token or remote signing service cannot be reached right now; retry later."""

    code = "signer_unavailable"


class TimestampUnavailable(ServiceUnavailable):
    """The time-stamping authority is down or answered something unusable; retry later."""

    code = "tsa_unavailable"


class RevocationInfoUnavailable(ServiceUnavailable):
    """OCSP/CRL data needed for B-LT could not be fetched; retry later."""

    code = "revocation_unavailable"


class SigningFailed(ServiceUnavailable):
    """Signing failed for a reason we did not foresee; nothing was produced."""

    code = "signing_failed"


class SignatureMismatch(InvalidInput):
    """A returned signature does not fit the document's hash or the signer's certificate."""

    code = "signature_mismatch"
