"""Verification of signed PDFs, for documents we issue and for files people upload.

:func:`verify` never raises on bad input: a file that is not a PDF, is encrypted or
damaged, carries no signature or too many, gets a report whose verdict is
``invalid`` or ``indeterminate`` with a reason in plain words.

Signatures with a trusted timestamp are checked at the time of that timestamp, so the
validation data embedded at signing (B-LT, B-LTA) suffice years later with the OCSP
responder and CRL servers switched off.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiohttp
from asn1crypto import cms, x509
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from core.errors import PolisError
from signing.report import (
    QualifiedStatus,
    SignatureReport,
    Verdict,
    VerificationReport,
    qualified_status,
)
from signing.sealer import open_pdf, run_coroutine

__all__ = [
    "QualifiedStatus",
    "SignatureReport",
    "Verdict",
    "VerificationReport",
    "qualified_status",
    "verify",
]

log = logging.getLogger(__name__)

#: Beyond this many signatures a file is reported indeterminate rather than checked:
#: each one costs a full chain and diff analysis.
MAX_SIGNATURES = 50
#: Seconds allowed for one OCSP/CRL/certificate download when fetching is allowed.
FETCH_TIMEOUT = 10

VERIFY_REVOCATION_POLICY = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
        intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
    )
)


_CHANGES = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "only validation data and timestamps were added",
    ModificationLevel.FORM_FILLING: "form fields were filled in or signed",
    ModificationLevel.ANNOTATIONS: "annotations (comments, stamps) were added",
    ModificationLevel.OTHER: "the content was changed",
}


def _timestamp_time(embedded: EmbeddedPdfSignature) -> datetime | None:
    attrs = embedded.signer_info["unsigned_attrs"]
    if attrs.native is None:
        return None
    for attr in attrs:
        if attr["type"].native == "signature_time_stamp_token":
            token: cms.ContentInfo = attr["values"][0]
            tst_info = token["content"]["encap_content_info"]["content"].parsed
            gen_time: datetime = tst_info["gen_time"].native
            return gen_time
    return None


def _dss_covers(dss: DocumentSecurityStore | None, cert: x509.Certificate) -> bool:
    """Whether the file's DSS holds an OCSP answer about ``cert`` or a CRL of its issuer."""
    if dss is None:
        return False
    serial = cert.serial_number
    for ref in dss.ocsps:
        try:
            response = asn1_ocsp.OCSPResponse.load(ref.get_object().data)
            answers = response["response_bytes"]["response"].parsed["tbs_response_data"]["responses"]
            if any(answer["cert_id"]["serial_number"].native == serial for answer in answers):
                return True
        except (ValueError, TypeError, KeyError):
            continue  # an unreadable entry proves nothing
    issuer = cert.issuer
    for ref in dss.crls:
        try:
            if asn1_crl.CertificateList.load(ref.get_object().data).issuer == issuer:
                return True
        except (ValueError, TypeError, KeyError):
            continue
    return False


def _context(
    roots: Sequence[x509.Certificate],
    dss: DocumentSecurityStore | None,
    *,
    http: aiohttp.ClientSession | None,
    moment: datetime | None,
) -> ValidationContext:
    kwargs: dict[str, Any] = {
        "trust_roots": list(roots),
        "allow_fetching": http is not None,
        "revinfo_policy": VERIFY_REVOCATION_POLICY,
        # empty lists (not None): "no revocation data" is a finding, not a usage error
        "crls": [],
        "ocsps": [],
    }
    if moment is not None:
        kwargs["moment"] = moment
    if http is not None:
        kwargs["fetcher_backend"] = AIOHttpFetcherBackend(http, per_request_timeout=FETCH_TIMEOUT)
    if dss is not None:
        return dss.as_validation_context(kwargs)
    return ValidationContext(**kwargs)


def _level(embedded: EmbeddedPdfSignature, has_ts: bool, ltv: bool, doc_ts: int) -> str:
    if not has_ts:
        return "B-B"
    if not ltv:
        return "B-T"
    return "B-LTA" if doc_ts else "B-LT"


_OUT_OF_BOUNDS = "the certificate was expired or not yet valid when the signature was made"
_TRUST_PROBLEMS = {
    "NO_CERTIFICATE_CHAIN_FOUND": "it does not chain to a trusted root certificate",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "the chain could not be checked, usually because no "
    "revocation data (OCSP/CRL) is embedded in the file or reachable",
    "TRY_LATER": "revocation data is not available yet",
    "OUT_OF_BOUNDS_NO_POE": _OUT_OF_BOUNDS,
    "OUT_OF_BOUNDS_NOT_REVOKED": _OUT_OF_BOUNDS,
    "REVOKED_NO_POE": "the certificate is revoked and nothing proves the signature was made before",
    "REVOKED_CA_NO_POE": "an issuing CA is revoked",
    "CHAIN_CONSTRAINTS_FAILURE": "the certificate chain breaks a CA constraint",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "the chain uses algorithms no longer considered secure",
    "SIG_CONSTRAINTS_FAILURE": "the certificate's key usage does not allow signing",
}


def _judge(status: PdfSignatureStatus, has_ts: bool) -> tuple[Verdict, str]:
    if not status.intact:
        return (
            Verdict.INVALID,
            "the document was changed after it was signed (the hash does not match)",
        )
    if not status.valid:
        return Verdict.INVALID, "the signature value is not valid for the signer's key"
    modification = status.modification_level
    if modification is not None and not status.docmdp_ok:
        return (
            Verdict.INVALID,
            f"after signing, {_CHANGES.get(modification, 'the file was changed')}, "
            "which the signature does not allow",
        )
    if modification is ModificationLevel.OTHER:
        return Verdict.INVALID, "the content was changed after signing"
    if status.revoked:
        details = status.revocation_details
        when = f" on {details.revocation_date:%Y-%m-%d}" if details else ""
        return Verdict.INVALID, f"the signer's certificate was revoked{when}"
    if status.validation_path is None or status.trust_problem_indic is not None:
        problem = str(getattr(status.trust_problem_indic, "name", "NO_CERTIFICATE_CHAIN_FOUND"))
        why = _TRUST_PROBLEMS.get(problem, problem.lower().replace("_", " "))
        return (
            Verdict.INDETERMINATE,
            f"the signer's certificate could not be confirmed as trusted: {why}",
        )
    ts = status.timestamp_validity
    if has_ts and ts is not None and not (ts.intact and ts.valid):
        return Verdict.INVALID, "the signature's timestamp is broken"
    if has_ts and ts is not None and not ts.trusted:
        return Verdict.INDETERMINATE, "the timestamp authority is not trusted"
    return Verdict.VALID, "the signature is intact and made with a trusted, unrevoked certificate"


async def _check_signature(
    embedded: EmbeddedPdfSignature,
    roots: Sequence[x509.Certificate],
    dss: DocumentSecurityStore | None,
    http: aiohttp.ClientSession | None,
    doc_timestamps: int,
) -> SignatureReport:
    name = str(embedded.field_name)
    cert = embedded.signer_cert
    ts_time = _timestamp_time(embedded)
    ltv = _dss_covers(dss, cert)
    if ltv:
        # self-contained by design: a failed download must not shadow the embedded data
        http = None
    # With embedded validation data both the timestamp and the signer's chain are checked
    # as they stood when the timestamp was made, using the OCSP/CRL answers gathered then:
    # that is what lets B-LT and B-LTA files verify offline for years.
    ts_context = _context(roots, dss, http=http, moment=ts_time if ltv else None)
    # With a timestamp the signature existed at ts_time: check the signer's chain then.
    signer_context = _context(roots, dss, http=http, moment=ts_time)
    status = await async_validate_pdf_signature(
        embedded, signer_validation_context=signer_context, ts_validation_context=ts_context
    )
    verdict, reason = _judge(status, ts_time is not None)
    ts = status.timestamp_validity
    return SignatureReport(
        field_name=name,
        verdict=verdict,
        reason=reason,
        intact=status.intact,
        signature_valid=status.valid,
        covers_whole_document=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        changes_after=_CHANGES.get(status.modification_level, "unknown")
        if status.modification_level is not None
        else "unknown",
        signer_name=cert.subject.native.get("common_name") or cert.subject.human_friendly,
        signer_certificate_sha256=cert.sha256.hex(),
        signing_time=status.signer_reported_dt,
        timestamp_time=ts.timestamp if ts is not None else None,
        timestamp_valid=(ts.intact and ts.valid) if ts is not None else None,
        timestamp_trusted=ts.trusted if ts is not None else None,
        ltv_embedded=ltv,
        chain_trusted=status.validation_path is not None and status.trust_problem_indic is None,
        revoked=status.revoked,
        qualified=qualified_status(cert),
        level=_level(embedded, ts_time is not None, ltv, doc_timestamps),
    )


async def _check_document(
    reader: PdfFileReader, roots: Sequence[x509.Certificate], allow_fetching: bool, digest: str
) -> VerificationReport:
    if not allow_fetching:
        return await _check_signatures(reader, roots, None, digest)
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT * 3)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        return await _check_signatures(reader, roots, http, digest)


async def _check_signatures(
    reader: PdfFileReader,
    roots: Sequence[x509.Certificate],
    http: aiohttp.ClientSession | None,
    digest: str,
) -> VerificationReport:
    try:
        dss: DocumentSecurityStore | None = DocumentSecurityStore.read_dss(reader)
    except Exception:
        dss = None
    reports = []
    regular: list[EmbeddedPdfSignature] = []
    doc_timestamps: list[EmbeddedPdfSignature] = []
    for name, _, field_ref in fields.enumerate_sig_fields(reader, filled_status=True):
        try:
            embedded = EmbeddedPdfSignature(reader, field_ref, name)
        except Exception as exc:
            reports.append(
                SignatureReport(
                    field_name=str(name),
                    verdict=Verdict.INVALID,
                    reason=f"the signature is malformed and could not be read ({type(exc).__name__})",
                )
            )
            continue
        if embedded.sig_object_type == "/DocTimeStamp":
            doc_timestamps.append(embedded)
        else:
            regular.append(embedded)
    for embedded in regular:
        try:
            reports.append(await _check_signature(embedded, roots, dss, http, len(doc_timestamps)))
        except Exception as exc:  # one broken signature must not hide the others
            log.info("signature %s could not be checked", embedded.field_name, exc_info=True)
            reports.append(
                SignatureReport(
                    field_name=str(embedded.field_name),
                    verdict=Verdict.INVALID,
                    reason=f"the signature is malformed and could not be checked ({type(exc).__name__})",
                )
            )
    for ts in doc_timestamps:
        try:
            # an archive timestamp is judged at its own time too (its TSA's revocation data
            # is as old as it is); a broken one is a finding, an old one is not
            gen_time = ts.signed_data["encap_content_info"]["content"].parsed["gen_time"].native
            ts_status = await async_validate_pdf_timestamp(
                ts, validation_context=_context(roots, dss, http=None, moment=gen_time)
            )
            broken = not (ts_status.intact and ts_status.valid)
        except Exception:
            broken = True
        if broken:
            reports.append(
                SignatureReport(
                    field_name=str(ts.field_name),
                    verdict=Verdict.INVALID,
                    reason="a document timestamp is broken",
                )
            )
    if not reports:
        return VerificationReport(Verdict.INDETERMINATE, "the file carries no signature", digest)
    worst = (
        Verdict.INVALID
        if any(r.verdict is Verdict.INVALID for r in reports)
        else Verdict.INDETERMINATE
        if any(r.verdict is Verdict.INDETERMINATE for r in reports)
        else Verdict.VALID
    )
    if worst is Verdict.VALID:
        reason = "the signature is valid" if len(reports) == 1 else f"all {len(reports)} signatures are valid"
    else:
        first = next(r for r in reports if r.verdict is worst)
        reason = f"signature {first.field_name}: {first.reason}"
    return VerificationReport(worst, reason, digest, tuple(reports), len(doc_timestamps))


def verify(
    pdf: bytes,
    trust_roots: Sequence[x509.Certificate] = (),
    *,
    allow_fetching: bool = False,
) -> VerificationReport:
    """Check every signature in a PDF against ``trust_roots``; never raises on bad input.

    ``allow_fetching`` lets the validator ask OCSP responders and CRL servers on the
    network for signatures that carry no validation data of their own.
    """
    digest = hashlib.sha256(pdf if isinstance(pdf, (bytes, bytearray)) else b"").hexdigest()
    try:
        reader = open_pdf(pdf)
    except PolisError as exc:
        return VerificationReport(Verdict.INVALID, exc.message, digest)
    try:
        count = sum(1 for _ in fields.enumerate_sig_fields(reader, filled_status=True))
    except Exception:
        return VerificationReport(Verdict.INVALID, "the signature fields of the PDF are malformed", digest)
    if count > MAX_SIGNATURES:
        return VerificationReport(
            Verdict.INDETERMINATE,
            f"the file carries {count} signatures; Polis checks at most {MAX_SIGNATURES}. "
            "Check it with a dedicated validation service.",
            digest,
        )
    try:
        return run_coroutine(_check_document(reader, trust_roots, allow_fetching, digest))
    except Exception as exc:  # never crash on a file someone uploaded
        log.warning("verification failed", exc_info=True)
        return VerificationReport(
            Verdict.INDETERMINATE,
            f"the signatures could not be checked ({type(exc).__name__}); the file may be damaged",
            digest,
        )
