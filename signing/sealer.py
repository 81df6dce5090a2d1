"""PAdES sealing: PDF bytes in, sealed PDF bytes out, at B-B, B-T, B-LT or B-LTA.

One :class:`Sealer` is built from settings and kept for the life of the process. Each
call to :meth:`Sealer.seal_many` runs one event loop in which the token/remote signer,
one HTTP session, one timestamper and one validation context (whose OCSP/CRL answers are
cached) serve the whole batch. The signature size is reserved from the known
certificate sizes, so pyHanko never signs twice to estimate it.

A batch either returns every sealed document or raises: a document is never returned
half-signed (B-T without its timestamp, B-LT without its validation data).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any, TypeVar

import aiohttp
from asn1crypto import tsp, x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.aiohttp_client import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathValidationError, RevokedError, ValidationError
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from core.errors import ConfigurationError, InvalidInput, PolisError
from signing import _hexstrings
from signing.errors import (
    EncryptedPdf,
    RevocationInfoUnavailable,
    SignerCertificateError,
    SigningFailed,
    TimestampUnavailable,
    UnreadablePdf,
)
from signing.signers import Signer
from signing.stamp import NOTO_SANS, Stamp, StampStyles

T = TypeVar("T")

# pyHanko reads a signature's hex /Contents one byte per call; see signing/_hexstrings.py
_hexstrings.install()


class PadesLevel(enum.Enum):
    """PAdES baseline levels, in increasing order of durability."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def rank(self) -> int:
        """0 for B-B ... 3 for B-LTA."""
        return list(PadesLevel).index(self)

    @classmethod
    def parse(cls, text: str) -> PadesLevel:
        """``"B-LT"`` (or ``"b_lt"``) → :attr:`B_LT`, with a clear error otherwise."""
        normalised = text.strip().upper().replace("_", "-")
        for level in cls:
            if level.value == normalised:
                return level
        raise ConfigurationError(f"unknown PAdES level {text!r}; use one of B-B, B-T, B-LT, B-LTA.")


@dataclass(frozen=True)
class SealRequest:
    """One document to seal, with its optional visible stamp.

    ``field_name`` names an empty signature field already in the document (one an official's
    signature reserved, and whose lock allows filling): the seal goes there and its stamp
    takes that field's box instead of ``stamp.placement``.
    """

    pdf: bytes
    stamp: Stamp | None = None
    field_name: str | None = None


# Revocation: OCSP first, CRL only when OCSP gives no good answer (pyhanko-certvalidator
# checks in that order); the end-entity must have an answer, CAs only if they declare one.
SIGNING_REVOCATION_POLICY = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
        intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
    )
)


def signing_validation_context(
    trust_roots: Sequence[x509.Certificate],
    chain: Sequence[x509.Certificate],
    http: aiohttp.ClientSession,
    timeout: float,
) -> ValidationContext:
    """The context that fetches (OCSP first) the validation data a B-LT signature embeds."""
    return ValidationContext(
        trust_roots=list(trust_roots),
        other_certs=list(chain),
        allow_fetching=True,
        revinfo_policy=SIGNING_REVOCATION_POLICY,
        fetcher_backend=AIOHttpFetcherBackend(http, per_request_timeout=timeout),
    )


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def open_pdf(pdf: bytes) -> PdfFileReader:
    """Parse PDF bytes, turning every parser failure into :class:`UnreadablePdf`."""
    if not isinstance(pdf, (bytes, bytearray)) or not bytes(pdf[:1024]).lstrip().startswith(b"%PDF-"):
        raise UnreadablePdf("the file is not a PDF (it does not start with %PDF-); upload a PDF file.")
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        encrypted = reader.encrypted
        if not encrypted:
            reader.root  # noqa: B018 - forces the catalogue to be parsed now
    except (
        PdfError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise UnreadablePdf(
            f"the PDF is damaged and cannot be read ({type(exc).__name__}: {exc}); "
            "re-export it from the original application."
        ) from exc
    if encrypted:
        raise EncryptedPdf(
            "the PDF is encrypted (password-protected); remove the protection and upload it again."
        )
    return reader


def check_certificate(cert: x509.Certificate, now: datetime) -> None:
    name = cert.subject.human_friendly
    key_usage = cert.key_usage_value
    if key_usage is None or "non_repudiation" not in key_usage.native:
        raise SignerCertificateError(
            f"the signer certificate ({name}) lacks the nonRepudiation key usage that seals and "
            "signatures need; request a seal/signature certificate from the provider."
        )
    validity = cert["tbs_certificate"]["validity"]
    not_before = validity["not_before"].native
    not_after = validity["not_after"].native
    if now < not_before or now > not_after:
        raise SignerCertificateError(
            f"the signer certificate ({name}) is valid only from {not_before:%Y-%m-%d} to "
            f"{not_after:%Y-%m-%d}; install a current certificate."
        )


def _error_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def translate_signing_error(exc: BaseException, *, tsa_url: str | None) -> PolisError:
    """Turn a pyHanko/aiohttp failure into the Polis error that says what to do."""
    chain = _error_chain(exc)
    for item in chain:
        if isinstance(item, PolisError):
            return item
    for item in chain:
        if isinstance(item, TimestampRequestError):
            return TimestampUnavailable(
                f"the time-stamping authority at {tsa_url} did not answer usefully ({item}). "
                "The document was not sealed; it will be retried when the TSA is back."
            )
    for item in chain:
        if isinstance(item, RevokedError):
            return SignerCertificateError(
                f"the signer certificate is revoked ({item}); install a new certificate."
            )
    text = " ".join(str(item) for item in chain)
    if "Final ByteRange payload larger" in text:
        return SigningFailed("the reserved signature space was too small", retry_larger=True)
    for item in chain:
        if isinstance(item, (PathValidationError, ValidationError)) or "revocation" in text.lower():
            return RevocationInfoUnavailable(
                f"could not collect OCSP/CRL validation data for B-LT ({item}). The document "
                "was not sealed; check that the OCSP responder or CRL server is reachable."
            )
    if any(isinstance(item, (aiohttp.ClientError, OSError, asyncio.TimeoutError)) for item in chain):
        return RevocationInfoUnavailable(
            f"a PKI service did not answer ({exc}); the document was not sealed. Retry later."
        )
    return SigningFailed(
        f"sealing failed: {type(exc).__name__}: {exc}. Nothing was produced; "
        "check the signer configuration and the logs."
    )


class StrictTimeStamper(HTTPTimeStamper):
    """An HTTP timestamper whose unparseable answers count as TSA failures, not crashes."""

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        response = await super().async_request_tsa_response(req)
        try:
            response.native  # noqa: B018 - asn1crypto parses lazily; force it now
        except (ValueError, TypeError) as exc:
            raise TimestampRequestError(
                f"the TSA answered something that is not a timestamp ({exc})"
            ) from exc
        return response


def _check_empty_field(reader: PdfFileReader, name: str) -> None:
    try:
        found = {n: value for n, value, _ in fields.enumerate_sig_fields(reader)}
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise UnreadablePdf(f"the signature fields of the PDF cannot be read ({exc}).") from exc
    if name not in found:
        raise InvalidInput(
            f"the document has no signature field {name!r} to seal into; it was signed without "
            "reserving the registration field, so stamping it would break that signature."
        )
    if found[name] is not None:
        raise InvalidInput(f"the signature field {name!r} is already signed; it was stamped before.")


class Sealer:
    """Seals PDFs with one signer at one PAdES level; build once, reuse for every document."""

    def __init__(
        self,
        signer: Signer,
        *,
        level: PadesLevel = PadesLevel.B_LT,
        tsa_url: str | None = None,
        trust_roots: Sequence[x509.Certificate] = (),
        timeout: float = 10.0,
        font_path: Any = NOTO_SANS,
        reason: str | None = None,
        location: str | None = None,
    ) -> None:
        if level.rank >= PadesLevel.B_T.rank and not tsa_url:
            raise ConfigurationError(
                f"PAdES {level.value} needs a time-stamping authority; set POLIS_SIGNING_TSA_URL "
                "or choose level B-B."
            )
        self.signer = signer
        self.level = level
        self.tsa_url = tsa_url
        self.timeout = timeout
        self.reason = reason
        self.location = location
        cert = signer.signing_cert
        check_certificate(cert, datetime.now(UTC))
        self._trust_roots = list(trust_roots) or [
            c for c in signer.chain if c.self_signed in ("maybe", "yes")
        ]
        self._styles = StampStyles(font_path)
        # CMS = signer cert + chain + signed attributes + signature; a timestamp token adds
        # the TSA's certificate and its own signature. Generous: unused space is only zeros.
        certs_size = len(cert.dump()) + sum(len(c.dump()) for c in signer.chain)
        self._reserve = 2 * certs_size + 4096
        if level.rank >= PadesLevel.B_T.rank:
            self._reserve += 12288

    def seal(self, pdf: bytes, stamp: Stamp | None = None) -> bytes:
        """Seal one document."""
        return self.seal_many([SealRequest(pdf, stamp)])[0]

    def seal_many(self, requests: Sequence[SealRequest | bytes]) -> list[bytes]:
        """Seal a batch sharing one signer session, timestamper and validation context."""
        items = [r if isinstance(r, SealRequest) else SealRequest(r) for r in requests]
        for item in items:
            reader = open_pdf(item.pdf)  # refuse bad input before anything is signed
            if item.field_name is not None:
                _check_empty_field(reader, item.field_name)
        try:
            return run_coroutine(self._seal_batch(items))
        except PolisError:
            raise
        except Exception as exc:  # every failure becomes a Polis error
            raise translate_signing_error(exc, tsa_url=self.tsa_url) from exc

    def _validation_context(self, http: aiohttp.ClientSession) -> ValidationContext:
        return signing_validation_context(self._trust_roots, self.signer.chain, http, self.timeout)

    async def _seal_batch(self, items: Sequence[SealRequest]) -> list[bytes]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http, self.signer.batch() as signer:
            timestamper = (
                StrictTimeStamper(self.tsa_url, timeout=int(self.timeout), session=http)
                if self.tsa_url and self.level.rank >= PadesLevel.B_T.rank
                else None
            )
            context = self._validation_context(http) if self.level.rank >= PadesLevel.B_LT.rank else None
            results = []
            for item in items:
                try:
                    sealed = await self._seal_one(item, signer, timestamper, context, self._reserve)
                except SigningError as exc:
                    if "Final ByteRange payload larger" not in str(exc):
                        raise
                    self._reserve *= 2  # learn once, then every later document fits
                    sealed = await self._seal_one(item, signer, timestamper, context, self._reserve)
                results.append(sealed)
            return results

    async def _seal_one(
        self,
        item: SealRequest,
        signer: signers.Signer,
        timestamper: HTTPTimeStamper | None,
        context: ValidationContext | None,
        reserve: int,
    ) -> bytes:
        writer = IncrementalPdfFileWriter(BytesIO(item.pdf), strict=False)
        if item.field_name is not None:
            field_name = item.field_name
        else:
            existing = {name for name, _, _ in fields.enumerate_sig_fields(writer.prev)}
            number = len(existing) + 1
            while f"PolisSeal{number}" in existing:
                number += 1
            field_name = f"PolisSeal{number}"
        meta = signers.PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=self.reason,
            location=self.location,
            embed_validation_info=self.level.rank >= PadesLevel.B_LT.rank,
            use_pades_lta=self.level is PadesLevel.B_LTA,
            validation_context=context,
        )
        field_spec = None
        text_params = None
        if item.stamp is not None:
            placement = item.stamp.placement
            if item.field_name is None:
                field_spec = fields.SigFieldSpec(
                    sig_field_name=field_name, on_page=placement.page, box=placement.box
                )
            text_params = item.stamp.text_params(datetime.now(UTC))
        pdf_signer = signers.PdfSigner(
            meta,
            signer,
            timestamper=timestamper,
            stamp_style=self._styles.for_stamp(item.stamp) if item.stamp is not None else None,
            new_field_spec=field_spec,
        )
        out = await pdf_signer.async_sign_pdf(
            writer, bytes_reserved=reserve, appearance_text_params=text_params
        )
        data: bytes = out.getvalue()
        return data
