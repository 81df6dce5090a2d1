"""Interrupted (two-step) signing: hash out now, signature in later.

For an official who signs on their own smart card or through a provider's hash-signing
API, possibly minutes later and in another process::

    signing = TwoStepSigning(level=PadesLevel.B_LT, tsa_url=..., trust_roots=[...])
    pending = signing.begin(pdf, official_cert, chain, stamp)
    store(pending.to_dict())                         # JSON-safe; holds no secret
    ... send pending.digest_to_sign (SHA-256) to the card / API, get the raw signature ...
    signed_pdf = signing.finish(PendingSignature.from_dict(stored), signature)

``finish`` checks the returned signature against the certificate before embedding it, so
a wrong card or a corrupted answer is refused and no broken document is produced. The
timestamp and the validation data (B-T and above) are added in ``finish``: when the TSA
or the OCSP responder is down it raises, the pending record is untouched, and the same
pending record with the same signature value can be finished later (no new PIN needed).

For an official's qualified signature pass ``require_qualified="qct_esign"``: ``begin``
then refuses a certificate without QcCompliance, QcSSCD and QcType esign, and (from B-LT)
one its OCSP responder/CRL says is revoked, before any digest is handed out. With
``reserve`` the signature leaves an empty signature field where the organisation's seal
later stamps the protocol number and date (:attr:`SealRequest.field_name`). A signature
locks its own field (FieldMDP) and is an approval signature, so co-signers after it may add
their own visible signatures and the seal may stamp; any other change to the content makes
it invalid. ``certify=True`` (a document with one signer) makes it a certification signature
with DocMDP "fill forms and sign": stricter, since nobody may then add a new visible field —
only the reserved one can be signed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import aiohttp
from asn1crypto import cms, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, MDPPerm
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.validation.dss import async_add_validation_info
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.registry import SimpleCertificateStore

from core.errors import ConfigurationError, InvalidInput, PolisError
from signing.errors import SignatureMismatch, SignerCertificateError
from signing.report import qualified_status
from signing.sealer import (
    PadesLevel,
    StrictTimeStamper,
    check_certificate,
    open_pdf,
    run_coroutine,
    signing_validation_context,
    translate_signing_error,
)
from signing.stamp import NOTO_SANS, Stamp, StampPlacement, StampStyles

#: Documents of one batch finished at the same time (their TSA round trips overlap).
FINISH_CONCURRENCY = 4
#: Room for the CMS beyond the certificates: signed attributes, signature, timestamp token.
_CMS_EXTRA = 4096 + 12288


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class PendingSignature:
    """A document prepared for signing, waiting for the signature of :attr:`digest_to_sign`."""

    prepared_pdf: bytes
    document_digest: bytes
    reserved_region_start: int
    reserved_region_end: int
    signed_attributes: bytes
    signing_cert: bytes
    chain: tuple[bytes, ...]
    #: The empty field left for the registration seal, if one was reserved.
    reserved_field: str | None = None

    @property
    def digest_to_sign(self) -> bytes:
        """SHA-256 of the CMS signed attributes: what the card or the API signs."""
        return hashlib.sha256(self.signed_attributes).digest()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form to keep between the two steps."""
        return {
            "prepared_pdf": _b64(self.prepared_pdf),
            "document_digest": _b64(self.document_digest),
            "reserved_region": [self.reserved_region_start, self.reserved_region_end],
            "signed_attributes": _b64(self.signed_attributes),
            "signing_cert": _b64(self.signing_cert),
            "chain": [_b64(c) for c in self.chain],
            "reserved_field": self.reserved_field,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingSignature:
        """Rebuild from :meth:`to_dict` output."""
        try:
            start, end = data["reserved_region"]
            return cls(
                prepared_pdf=base64.b64decode(data["prepared_pdf"]),
                document_digest=base64.b64decode(data["document_digest"]),
                reserved_region_start=int(start),
                reserved_region_end=int(end),
                signed_attributes=base64.b64decode(data["signed_attributes"]),
                signing_cert=base64.b64decode(data["signing_cert"]),
                chain=tuple(base64.b64decode(c) for c in data["chain"]),
                reserved_field=data.get("reserved_field"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                "the pending signature record is incomplete or damaged; start the signing again."
            ) from exc


@dataclass(frozen=True)
class ReservedField:
    """An empty signature field the official's signature leaves for the registration seal."""

    name: str = "PolisRegistration"
    placement: StampPlacement = field(default_factory=lambda: StampPlacement(page=-1, box=(30, 30, 290, 110)))


def check_signature_value(cert: x509.Certificate, signed_attributes: bytes, signature: bytes) -> None:
    """Refuse a signature value that the certificate's key did not make over these attributes."""
    public_key = serialization.load_der_public_key(cert.public_key.dump())
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signed_attributes, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, signed_attributes, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidInput("only RSA and ECDSA signer certificates are supported.")
    except InvalidSignature as exc:
        raise SignatureMismatch(
            "the signature returned does not match the certificate and the document; sign "
            "the digest again with the key of this certificate."
        ) from exc


QC_TYPE_NAMES = {"qct_esign": "esign", "qct_eseal": "eseal", "qct_web": "web"}


def check_qualified(cert: x509.Certificate, qc_type: str) -> None:
    """Refuse a certificate that is not qualified for ``qc_type`` (``qct_esign``/``qct_eseal``)."""
    status = qualified_status(cert)
    missing = [
        label
        for label, present in (
            ("QcCompliance", status.qc_compliance),
            ("QcSSCD", status.qc_sscd),
            (f"QcType {QC_TYPE_NAMES.get(qc_type, qc_type)}", qc_type in status.qc_types),
        )
        if not present
    ]
    if missing:
        kind = "signature" if qc_type == "qct_esign" else "seal"
        raise SignerCertificateError(
            f"the certificate of {cert.subject.human_friendly} is not a qualified certificate "
            f"for an electronic {kind} (its QC statements lack {', '.join(missing)}); a "
            f"qualified {kind} needs a qualified certificate on a QSCD from a trust service "
            "provider on the EU trusted list."
        )


class TwoStepSigning:
    """Prepares documents for an external signature and completes them to a PAdES level."""

    def __init__(
        self,
        *,
        level: PadesLevel = PadesLevel.B_LT,
        tsa_url: str | None = None,
        trust_roots: Sequence[x509.Certificate] = (),
        timeout: float = 10.0,
        font_path: Any = NOTO_SANS,
        require_qualified: str | None = None,
    ) -> None:
        if level.rank >= PadesLevel.B_T.rank and not tsa_url:
            raise ConfigurationError(
                f"PAdES {level.value} needs a time-stamping authority; set POLIS_SIGNING_TSA_URL "
                "or choose level B-B."
            )
        self.level = level
        self.tsa_url = tsa_url
        self.timeout = timeout
        self.require_qualified = require_qualified
        self._trust_roots = list(trust_roots)
        self._styles = StampStyles(font_path)

    def check_signer(self, signing_cert: x509.Certificate, chain: Sequence[x509.Certificate]) -> None:
        """Refuse an expired, unqualified (when required) or (from B-LT) revoked certificate."""
        check_certificate(signing_cert, datetime.now(UTC))
        if self.require_qualified:
            check_qualified(signing_cert, self.require_qualified)
        if self.level.rank >= PadesLevel.B_LT.rank:
            self._run(self._check_not_revoked(signing_cert, list(chain)))

    def begin(
        self,
        pdf: bytes,
        signing_cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
        stamp: Stamp | None = None,
        *,
        reserve: ReservedField | None = None,
        certify: bool = False,
    ) -> PendingSignature:
        """Prepare the document and the attributes to sign; nothing leaves this process."""
        return self.begin_many([(pdf, stamp)], signing_cert, chain, reserve=reserve, certify=certify)[0]

    def begin_many(
        self,
        documents: Sequence[tuple[bytes, Stamp | None]],
        signing_cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
        *,
        reserve: ReservedField | None = None,
        certify: bool = False,
    ) -> list[PendingSignature]:
        """Prepare several documents for one signer (the certificate is checked once)."""
        for pdf, _ in documents:
            open_pdf(pdf)
        self.check_signer(signing_cert, chain)
        prepared: list[PendingSignature] = self._run(
            self._begin_all(documents, signing_cert, list(chain), reserve, certify)
        )
        return prepared

    def _run(self, coro: Any) -> Any:
        try:
            return run_coroutine(coro)
        except PolisError:
            raise
        except Exception as exc:  # every failure becomes a Polis error
            raise translate_signing_error(exc, tsa_url=self.tsa_url) from exc

    def _roots(self, chain: Sequence[x509.Certificate]) -> list[x509.Certificate]:
        return self._trust_roots or [c for c in chain if c.self_signed in ("maybe", "yes")]

    async def _check_not_revoked(self, cert: x509.Certificate, chain: list[x509.Certificate]) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            context = signing_validation_context(self._roots(chain), chain, http, self.timeout)
            validator = CertificateValidator(cert, intermediate_certs=chain, validation_context=context)
            await validator.async_validate_usage({"non_repudiation"})  # type: ignore[no-untyped-call]

    async def _begin_all(
        self,
        documents: Sequence[tuple[bytes, Stamp | None]],
        cert: x509.Certificate,
        chain: list[x509.Certificate],
        reserve: ReservedField | None,
        certify: bool,
    ) -> list[PendingSignature]:
        return [await self._begin(pdf, cert, chain, stamp, reserve, certify) for pdf, stamp in documents]

    async def _begin(
        self,
        pdf: bytes,
        cert: x509.Certificate,
        chain: list[x509.Certificate],
        stamp: Stamp | None,
        reserve: ReservedField | None,
        certify: bool,
    ) -> PendingSignature:
        registry = SimpleCertificateStore.from_certs([cert, *chain])  # type: ignore[no-untyped-call]
        placeholder = signers.ExternalSigner(cert, registry, signature_value=512)
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        existing = {name: filled for name, filled, _ in fields.enumerate_sig_fields(writer.prev)}
        number = len(existing) + 1
        while f"PolisSignature{number}" in existing:
            number += 1
        field_name = f"PolisSignature{number}"
        if certify and any(filled is not None for filled in existing.values()):
            raise InvalidInput(
                "only the first signature of a document can certify it; this one already "
                "carries a signature, so sign it without certify."
            )
        placement = stamp.placement if stamp is not None else None
        field_spec = fields.SigFieldSpec(
            sig_field_name=field_name,
            on_page=placement.page if placement else 0,
            box=placement.box if placement else None,
            field_mdp_spec=None if certify else FieldMDPSpec(FieldMDPAction.INCLUDE, [field_name]),
        )
        if reserve is not None:
            if reserve.name in existing:
                raise InvalidInput(
                    f"the document already has a signature field named {reserve.name!r}; "
                    "reserve the registration field under another name."
                )
            fields.append_signature_field(
                writer,
                fields.SigFieldSpec(
                    sig_field_name=reserve.name,
                    on_page=reserve.placement.page,
                    box=reserve.placement.box,
                ),
            )
        text_params = stamp.text_params(datetime.now(UTC)) if stamp is not None else None
        pdf_signer = signers.PdfSigner(
            signers.PdfSignatureMetadata(
                field_name=field_name,
                md_algorithm="sha256",
                subfilter=fields.SigSeedSubFilter.PADES,
                certify=certify,
                docmdp_permissions=MDPPerm.FILL_FORMS,
            ),
            placeholder,
            stamp_style=self._styles.for_stamp(stamp) if stamp is not None else None,
            new_field_spec=field_spec,
        )
        certs_size = len(cert.dump()) + sum(len(c.dump()) for c in chain)
        prepared, _, output = await pdf_signer.async_digest_doc_for_signing(
            writer, bytes_reserved=2 * certs_size + _CMS_EXTRA, appearance_text_params=text_params
        )
        attributes = await placeholder.signed_attrs(prepared.document_digest, "sha256", use_pades=True)
        output.seek(0)
        prepared_pdf = output.read()
        return PendingSignature(
            prepared_pdf=prepared_pdf,
            document_digest=prepared.document_digest,
            reserved_region_start=prepared.reserved_region_start,
            reserved_region_end=prepared.reserved_region_end,
            signed_attributes=attributes.dump(),
            signing_cert=cert.dump(),
            chain=tuple(c.dump() for c in chain),
            reserved_field=reserve.name if reserve is not None else None,
        )

    def finish(self, pending: PendingSignature, signature: bytes) -> bytes:
        """Embed the external signature, then add timestamp and validation data per level."""
        return self.finish_many([(pending, signature)])[0]

    def finish_many(self, items: Sequence[tuple[PendingSignature, bytes]]) -> list[bytes]:
        """Finish several documents sharing one HTTP session, timestamper and validation
        context (one OCSP/CRL fetch for all). Every signature is checked before any document
        is finished; all documents are returned, or an error and none."""
        for pending, signature in items:
            cert = x509.Certificate.load(pending.signing_cert)
            check_signature_value(cert, pending.signed_attributes, signature)
        return list(self._run(self._finish_all(items)))

    async def _finish_all(self, items: Sequence[tuple[PendingSignature, bytes]]) -> list[bytes]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            timestamper = (
                StrictTimeStamper(self.tsa_url, timeout=int(self.timeout), session=http)
                if self.tsa_url and self.level.rank >= PadesLevel.B_T.rank
                else None
            )
            contexts: dict[bytes, Any] = {}
            jobs = []
            for pending, signature in items:
                chain = [x509.Certificate.load(c) for c in pending.chain]
                context = contexts.get(pending.signing_cert)
                if context is None and self.level.rank >= PadesLevel.B_LT.rank:
                    context = contexts[pending.signing_cert] = signing_validation_context(
                        self._roots(chain), chain, http, self.timeout
                    )
                jobs.append((pending, signature, chain, context))
            if not jobs:
                return []
            # the first document fetches the OCSP/CRL answers every later one reuses; then
            # a few at a time, so one document's TSA round trip overlaps another's PDF work
            first = await self._finish(*jobs[0][:3], timestamper, jobs[0][3])
            gate = asyncio.Semaphore(FINISH_CONCURRENCY)

            async def finish(job: tuple[PendingSignature, bytes, list[x509.Certificate], Any]) -> bytes:
                async with gate:
                    return await self._finish(job[0], job[1], job[2], timestamper, job[3])

            rest = await asyncio.gather(*(finish(job) for job in jobs[1:]))
        return [first, *rest]

    async def _finish(
        self,
        pending: PendingSignature,
        signature: bytes,
        chain: list[x509.Certificate],
        timestamper: StrictTimeStamper | None,
        context: Any,
    ) -> bytes:
        cert = x509.Certificate.load(pending.signing_cert)
        registry = SimpleCertificateStore.from_certs([cert, *chain])  # type: ignore[no-untyped-call]
        signer = signers.ExternalSigner(cert, registry, signature_value=signature)
        signed_cms = await signer.async_sign_prescribed_attributes(
            "sha256",
            signed_attrs=cms.CMSAttributes.load(pending.signed_attributes),
            timestamper=timestamper,
        )
        output = BytesIO(pending.prepared_pdf)
        await PdfTBSDocument.async_finish_signing(
            output,
            PreparedByteRangeDigest(
                document_digest=pending.document_digest,
                reserved_region_start=pending.reserved_region_start,
                reserved_region_end=pending.reserved_region_end,
            ),
            signed_cms,
        )
        if self.level.rank < PadesLevel.B_LT.rank:
            return output.getvalue()
        embedded = PdfFileReader(BytesIO(output.getvalue())).embedded_signatures[-1]
        with_dss = await async_add_validation_info(embedded, context, output=BytesIO())
        if self.level is PadesLevel.B_LT:
            result: bytes = with_dss.getvalue()
            return result
        assert timestamper is not None
        stamped = await signers.PdfTimeStamper(timestamper).async_timestamp_pdf(
            IncrementalPdfFileWriter(BytesIO(with_dss.getvalue())),
            "sha256",
            validation_context=context,
            output=BytesIO(),
        )
        final: bytes = stamped.getvalue()
        return final
