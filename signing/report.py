"""What :func:`signing.verify.verify` reports: a verdict in plain words per signature and file."""

from __future__ import annotations

import enum
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import x509
from pyhanko.sign.ades import qualified_asn1

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    """The bottom line of a check."""

    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"


@dataclass(frozen=True)
class QualifiedStatus:
    """What the signer certificate's QC statements claim (ETSI EN 319 412-5)."""

    qc_compliance: bool = False
    qc_sscd: bool = False
    qc_types: tuple[str, ...] = ()

    @property
    def qualified(self) -> bool:
        """A qualified certificate whose key sits on a QSCD."""
        return self.qc_compliance and self.qc_sscd


@dataclass(frozen=True)
class SignatureReport:
    """Everything we found about one signature."""

    field_name: str
    verdict: Verdict
    reason: str
    intact: bool = False
    signature_valid: bool = False
    covers_whole_document: bool = False
    changes_after: str = "unknown"
    signer_name: str | None = None
    signer_certificate_sha256: str | None = None
    signing_time: datetime | None = None
    timestamp_time: datetime | None = None
    timestamp_valid: bool | None = None
    timestamp_trusted: bool | None = None
    ltv_embedded: bool = False
    chain_trusted: bool = False
    revoked: bool = False
    qualified: QualifiedStatus = field(default_factory=QualifiedStatus)
    level: str = "unknown"


@dataclass(frozen=True)
class VerificationReport:
    """The result of :func:`verify` for a whole file."""

    verdict: Verdict
    reason: str
    sha256: str
    signatures: tuple[SignatureReport, ...] = ()
    document_timestamps: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (enums as strings, datetimes ISO 8601)."""

        def convert(value: Any) -> Any:
            if isinstance(value, enum.Enum):
                return value.value
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [convert(v) for v in value]
            return value

        data: dict[str, Any] = convert(asdict(self))
        for signature, report in zip(data["signatures"], self.signatures, strict=True):
            signature["qualified"]["qualified"] = report.qualified.qualified
        return data


def qualified_status(cert: x509.Certificate) -> QualifiedStatus:
    """Read QcCompliance, QcSSCD and QcType from a certificate."""
    compliance = sscd = False
    types: list[str] = []
    try:
        for statement in qualified_asn1.get_qc_statements(cert):
            kind = statement["statement_id"].native
            if kind == "qc_compliance":
                compliance = True
            elif kind == "qc_sscd":
                sscd = True
            elif kind == "qc_type":
                types.extend(str(t.native) for t in statement["statement_info"])
    except (ValueError, TypeError, KeyError):
        log.info("unparseable QC statements in %s", cert.subject.human_friendly)
    return QualifiedStatus(compliance, sscd, tuple(types))
